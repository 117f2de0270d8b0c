import { Alert, Button, Group, PasswordInput, Stack, Text, TextInput } from '@mantine/core';
import { useState, type FormEvent, type ReactNode } from 'react';
import { api, client, type Session } from '../../api/client';
import { sessionLabel } from '../../api/sessions';
import { useAction } from '../../api/useAction';

type Step = 'phone' | 'code' | 'password' | 'done';

function stepOf(session: Session | null): Step {
  if (!session) return 'phone';
  if (session.status === 'code_sent') return 'code';
  if (session.status === 'password_required') return 'password';
  return 'done';
}

function Failure({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <Alert color="red" role="alert" data-testid="add-session-error">
      {error}
    </Alert>
  );
}

/** The end of every way in: the account is signed in (or says where it stands). */
export function SignedIn({ session, onClose }: { session: Session; onClose: () => void }) {
  return (
    <Stack>
      <Alert color={session.status === 'connected' ? 'green' : 'blue'} data-testid="add-session-done">
        {session.status === 'connected'
          ? `Connected as ${sessionLabel(session)}${session.user?.username ? ` (@${session.user.username})` : ''}.`
          : `The session is ${session.status}.`}
      </Alert>
      <Group justify="flex-end">
        <Button onClick={onClose} data-testid="add-session-close">
          Done
        </Button>
      </Group>
    </Stack>
  );
}

/** One step of a sign-in: its fields, the call it makes on submit, its error, its button. */
export function StepForm<T>({
  submit,
  onDone,
  label,
  testId,
  ready,
  children,
}: {
  submit: () => Promise<T>;
  onDone: (result: T) => void;
  /** The submit button's text and test id. */
  label: string;
  testId: string;
  /** Whether the fields are filled in enough to submit. */
  ready: boolean;
  children: ReactNode;
}) {
  const { run, busy, error } = useAction();
  return (
    <form
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        void run(submit).then((result) => result !== undefined && onDone(result));
      }}
    >
      <Stack>
        {children}
        <Failure error={error} />
        <Button type="submit" loading={busy} disabled={!ready} data-testid={testId}>
          {label}
        </Button>
      </Stack>
    </form>
  );
}

/**
 * Phone -> code -> 2FA password (POST /sessions, /sessions/verify-code, /sessions/verify-password).
 * Started with a session waiting for its code or password, it continues from there.
 */
export function PhoneLogin({
  resume,
  onSession,
  onClose,
}: {
  resume: Session | null;
  onSession: (session: Session) => void;
  onClose: () => void;
}) {
  const [session, setSession] = useState<Session | null>(resume);
  const [phone, setPhone] = useState('');
  const [name, setName] = useState('');
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const step = stepOf(session);

  const advance = (next: Session) => {
    setSession(next);
    onSession(next);
  };

  if (step === 'done' && session) return <SignedIn session={session} onClose={onClose} />;
  if (step === 'phone') {
    return (
      <StepForm
        submit={() =>
          api(
            client.POST('/api/v1/sessions', {
              body: { phone: phone.trim(), name: name.trim() || undefined },
            }),
          )
        }
        onDone={advance}
        label="Send code"
        testId="phone-submit"
        ready={Boolean(phone.trim())}
      >
        <TextInput
          label="Phone number"
          description="International format, e.g. +44 7700 900123"
          type="tel"
          autoComplete="tel"
          required
          data-autofocus
          value={phone}
          onChange={(e) => setPhone(e.currentTarget.value)}
          data-testid="phone-input"
        />
        <TextInput
          label="Name (optional)"
          description="How the session is shown here"
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
          data-testid="session-name-input"
        />
      </StepForm>
    );
  }
  if (!session) return null;
  if (step === 'code') {
    return (
      <StepForm
        submit={() =>
          api(
            client.POST('/api/v1/sessions/verify-code', {
              body: { sessionId: session.id, code: code.trim() },
            }),
          )
        }
        onDone={advance}
        label="Sign in"
        testId="code-submit"
        ready={Boolean(code.trim())}
      >
        <Text size="sm">
          Telegram sent a login code to {session.phone ?? 'the account'} (in the Telegram app).
        </Text>
        <TextInput
          label="Login code"
          inputMode="numeric"
          autoComplete="one-time-code"
          required
          data-autofocus
          value={code}
          onChange={(e) => setCode(e.currentTarget.value)}
          data-testid="code-input"
        />
      </StepForm>
    );
  }
  return (
    <StepForm
      submit={() =>
        api(client.POST('/api/v1/sessions/verify-password', { body: { sessionId: session.id, password } }))
      }
      onDone={advance}
      label="Sign in"
      testId="password-submit"
      ready={Boolean(password)}
    >
      <Text size="sm">This account has two-step verification: enter its password.</Text>
      <PasswordInput
        label="Two-step verification password"
        autoComplete="current-password"
        required
        data-autofocus
        value={password}
        onChange={(e) => setPassword(e.currentTarget.value)}
        data-testid="password-input"
      />
    </StepForm>
  );
}
