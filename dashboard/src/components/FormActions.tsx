import { Alert, Button, Group, Modal, Stack, Text } from '@mantine/core';
import type { ReactNode } from 'react';
import { useAction } from '../api/useAction';

/** The foot of a form or dialog: its error, then Cancel and the action. */
export function FormActions({
  error,
  errorTestId,
  onCancel,
  submit,
}: {
  error: string | null;
  errorTestId?: string;
  onCancel: () => void;
  /** The action button (type="submit" in a form). */
  submit: ReactNode;
}) {
  return (
    <>
      {error && (
        <Alert color="red" role="alert" data-testid={errorTestId}>
          {error}
        </Alert>
      )}
      <Group justify="flex-end">
        <Button variant="default" onClick={onCancel}>
          Cancel
        </Button>
        {submit}
      </Group>
    </>
  );
}

/**
 * Asks before something that cannot be undone (revoking a key, deleting a webhook): `what`
 * says what happens, `action` does it; the dialog closes with `onDone` when it succeeded.
 */
export function ConfirmModal({
  opened,
  title,
  what,
  actionLabel,
  testId,
  action,
  onClose,
  onDone,
}: {
  opened: boolean;
  title: string;
  what: ReactNode;
  actionLabel: string;
  testId: string;
  action: () => Promise<unknown>;
  onClose: () => void;
  onDone: () => void;
}) {
  const { run, busy, error, clearError } = useAction();
  const confirm = async () => {
    const done = await run(async () => {
      await action();
      return true;
    });
    if (done) onDone();
  };
  const close = () => {
    clearError();
    onClose();
  };
  return (
    <Modal opened={opened} onClose={close} title={title}>
      <Stack>
        <Text size="sm">{what}</Text>
        <FormActions
          error={error}
          onCancel={close}
          submit={
            <Button color="red" loading={busy} onClick={() => void confirm()} data-testid={testId}>
              {actionLabel}
            </Button>
          }
        />
      </Stack>
    </Modal>
  );
}
