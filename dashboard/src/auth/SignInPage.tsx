import { useState, type FormEvent } from 'react';
import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { errorText } from '../api/client';
import { useAuthState } from './AuthContext';

/** Sign-in with an API key, exchanged for a JWT kept for this browser tab. */
export function SignInPage() {
  const { signIn } = useAuthState();
  const [apiKey, setApiKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(apiKey.trim());
    } catch (e) {
      setError(errorText(e));
      setBusy(false);
    }
  }

  return (
    <Center mih="100vh" p="md" component="main">
      <Paper withBorder shadow="sm" p="xl" w="100%" maw={420}>
        <form onSubmit={submit} aria-labelledby="sign-in-title" data-testid="sign-in-form">
          <Stack>
            <Title order={1} size="h2" id="sign-in-title">
              TeleFlow
            </Title>
            <Text c="dimmed" size="sm">
              Sign in with an API key. The session lasts for this browser tab.
            </Text>
            <PasswordInput
              label="API key"
              name="apiKey"
              autoComplete="current-password"
              required
              autoFocus
              value={apiKey}
              onChange={(e) => setApiKey(e.currentTarget.value)}
              data-testid="sign-in-key"
            />
            {error && (
              <Alert color="red" role="alert" title="Sign-in failed" data-testid="sign-in-error">
                {error}
              </Alert>
            )}
            <Button type="submit" loading={busy} disabled={!apiKey.trim()} data-testid="sign-in-submit">
              Sign in
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
