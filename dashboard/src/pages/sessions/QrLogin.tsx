import { Alert, Button, Code, Group, List, Loader, Stack, Text, TextInput } from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import { ApiError, api, client, type Schemas, type Session, type TeleFlowEvent } from '../../api/client';
import { useLiveEvents } from '../../api/events';
import { sessionOfEvent } from '../../api/sessions';
import { useAction } from '../../api/useAction';
import { QrCodeSvg } from '../../components/QrCodeSvg';
import { PhoneLogin, SignedIn } from './PhoneLogin';

/** How often a pending QR login is checked (its token lives about 30 s; events usually win). */
const POLL_MS = 2000;

type QrCode = Schemas['QrCode'];

/**
 * QR login (POST /sessions/qr): the tg://login URL drawn as a QR code, replaced as Telegram
 * refreshes the token (GET /sessions/:id/qr), and replaced by "connected" once another
 * signed-in app accepts it (session.* events, checked by polling too). A 2FA account then asks
 * for its password.
 */
export function QrLogin({
  onSession,
  onClose,
}: {
  onSession: (session: Session) => void;
  onClose: () => void;
}) {
  const [name, setName] = useState('');
  const [session, setSession] = useState<Session | null>(null);
  const [qr, setQr] = useState<QrCode | null>(null);
  const { run, busy, error } = useAction();

  const update = useCallback(
    (next: Session) => {
      setSession(next);
      onSession(next);
    },
    [onSession],
  );

  useLiveEvents(
    useCallback(
      (event: TeleFlowEvent) => {
        const next = sessionOfEvent(event);
        if (next && next.status !== 'qr_pending') update(next);
      },
      [update],
    ),
    { sessionId: session?.id ?? '', types: ['session.*'] },
  );

  const pendingId = session?.status === 'qr_pending' ? session.id : null;
  useEffect(() => {
    if (!pendingId) return;
    let stopped = false;
    const check = async () => {
      try {
        const current = await api(
          client.GET('/api/v1/sessions/{id}', { params: { path: { id: pendingId } } }),
        );
        if (stopped) return;
        if (current.status !== 'qr_pending') return update(current);
        const fresh = await api(
          client.GET('/api/v1/sessions/{id}/qr', { params: { path: { id: pendingId } } }),
        );
        if (!stopped) setQr((old) => (old?.url === fresh.url ? old : fresh));
      } catch (e) {
        // 409: the login just ended; the next check (or an event) says how.
        if (!(e instanceof ApiError && e.status === 409)) throw e;
      }
    };
    const timer = setInterval(() => void check().catch(() => {}), POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [pendingId, update]);

  const start = () =>
    void run(() =>
      api(client.POST('/api/v1/sessions/qr', { body: { name: name.trim() || undefined } })),
    ).then((started) => {
      if (!started) return;
      setQr(started.qr.url ? started.qr : null);
      update(started.session);
    });

  if (session?.status === 'password_required') {
    return <PhoneLogin resume={session} onSession={onSession} onClose={onClose} />;
  }
  if (session && session.status !== 'qr_pending') {
    if (session.status === 'connected' || session.status === 'connecting') {
      return <SignedIn session={session} onClose={onClose} />;
    }
    return (
      <Stack>
        <Alert color="red" role="alert" data-testid="add-session-error">
          The QR login ended ({session.status}){session.lastError ? `: ${session.lastError.message}` : ''}.
        </Alert>
        <Button onClick={() => setSession(null)}>Try again</Button>
      </Stack>
    );
  }
  if (session && qr) {
    return (
      <Stack align="center" data-testid="qr-login" data-session-id={session.id}>
        <QrCodeSvg value={qr.url} label="QR code to scan with a signed-in Telegram app" />
        <List size="sm" type="ordered">
          <List.Item>Open Telegram on a device where this account is signed in.</List.Item>
          <List.Item>Settings → Devices → Link Desktop Device.</List.Item>
          <List.Item>Scan this code. It refreshes by itself until it is accepted.</List.Item>
        </List>
        <Group gap="xs" aria-live="polite">
          <Loader size="xs" aria-hidden />
          <Text size="sm" data-testid="qr-status">
            Waiting for the scan…
          </Text>
        </Group>
        <Code block w="100%" className="tf-mono tf-wrap" data-testid="qr-url">
          {qr.url}
        </Code>
      </Stack>
    );
  }
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        start();
      }}
    >
      <Stack>
        <Text size="sm">
          Sign in by scanning a QR code with the Telegram app of an account signed in elsewhere.
        </Text>
        <TextInput
          label="Name (optional)"
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
          data-testid="qr-name-input"
        />
        {error && (
          <Alert color="red" role="alert" data-testid="add-session-error">
            {error}
          </Alert>
        )}
        <Button type="submit" loading={busy} data-testid="qr-start">
          Show QR code
        </Button>
      </Stack>
    </form>
  );
}
