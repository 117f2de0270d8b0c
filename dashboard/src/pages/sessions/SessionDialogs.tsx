import { Alert, Button, Code, CopyButton, Group, Modal, Stack, Text } from '@mantine/core';
import { useState } from 'react';
import { api, client, type Session } from '../../api/client';
import { sessionLabel } from '../../api/sessions';
import { useAction } from '../../api/useAction';
import { ConfirmModal } from '../../components/ConfirmModal';

/** Deleting logs the account out of Telegram too: asked first. */
export function DeleteSessionModal({
  session,
  onClose,
  onDeleted,
}: {
  session: Session | null;
  onClose: () => void;
  onDeleted: (id: string) => void;
}) {
  return (
    <ConfirmModal
      opened={session !== null}
      title="Delete the session?"
      confirmLabel="Delete"
      testId="delete-session"
      onClose={onClose}
      onConfirm={async () => {
        if (!session) return;
        await api(client.DELETE('/api/v1/sessions/{id}', { params: { path: { id: session.id } } }));
        onDeleted(session.id);
      }}
    >
      {session && (
        <Text size="sm">
          <strong>{sessionLabel(session)}</strong> will be logged out of Telegram and forgotten by TeleFlow.
          Signing it in again needs a new login.
        </Text>
      )}
    </ConfirmModal>
  );
}

/**
 * Export (admin): the session string is the account, so it is asked for explicitly, shown once
 * in this dialog, and forgotten when the dialog closes.
 */
export function ExportSessionModal({ session, onClose }: { session: Session | null; onClose: () => void }) {
  const [exported, setExported] = useState<string | null>(null);
  const { run, busy, error } = useAction();
  const close = () => {
    setExported(null);
    onClose();
  };
  const reveal = async (target: Session) => {
    const result = await run(() =>
      api(client.POST('/api/v1/sessions/{id}/export', { params: { path: { id: target.id } } })),
    );
    if (result) setExported(result.sessionString);
  };
  return (
    <Modal
      opened={session !== null}
      onClose={close}
      title="Export the session string"
      data-testid="export-session-modal"
    >
      {session && (
        <Stack>
          <Alert color="yellow" variant="light" title="Anyone with this string controls the account">
            It signs in as {sessionLabel(session)} without a code or password. It is shown once; store it in a
            secret manager.
          </Alert>
          {exported ? (
            <>
              <Code block className="tf-mono tf-wrap" data-testid="exported-session-string">
                {exported}
              </Code>
              <Group justify="flex-end">
                <CopyButton value={exported}>
                  {({ copied, copy }) => (
                    <Button variant="default" onClick={copy}>
                      {copied ? 'Copied' : 'Copy'}
                    </Button>
                  )}
                </CopyButton>
                <Button onClick={close}>Done</Button>
              </Group>
            </>
          ) : (
            <>
              {error && (
                <Alert color="red" role="alert">
                  {error}
                </Alert>
              )}
              <Group justify="flex-end">
                <Button variant="default" onClick={close}>
                  Cancel
                </Button>
                <Button
                  loading={busy}
                  onClick={() => void reveal(session)}
                  data-testid="export-session-confirm"
                >
                  Show the session string
                </Button>
              </Group>
            </>
          )}
        </Stack>
      )}
    </Modal>
  );
}
