import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { MantineProvider } from '@mantine/core';
import './styles';
import { App } from './App';
import { shareStyleNonce, styleNonce, theme } from './theme';

shareStyleNonce();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <MantineProvider theme={theme} defaultColorScheme="auto" getStyleNonce={styleNonce}>
      <App />
    </MantineProvider>
  </StrictMode>,
);
