import { Center, Loader } from '@mantine/core';
import { AuthProvider, useAuthState } from './auth/AuthContext';
import { SignInPage } from './auth/SignInPage';
import { Shell } from './layout/Shell';

function Gate() {
  const { status } = useAuthState();
  if (status === 'loading') {
    return (
      <Center h="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  }
  return status === 'signed-in' ? <Shell /> : <SignInPage />;
}

export function App() {
  return (
    <AuthProvider>
      <Gate />
    </AuthProvider>
  );
}
