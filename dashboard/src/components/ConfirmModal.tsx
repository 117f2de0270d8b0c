import { Alert, Button, Group, Modal, Stack } from '@mantine/core';
import type { ReactNode } from 'react';
import { useAction } from '../api/useAction';

/**
 * A question before a destructive action: the message, Cancel, and a confirm button that runs
 * `onConfirm` (busy while it runs; its error shown in place; closes when it succeeds).
 */
export function ConfirmModal({
  opened,
  title,
  confirmLabel,
  onConfirm,
  onClose,
  testId,
  children,
}: {
  opened: boolean;
  title: string;
  confirmLabel: string;
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
  /** `<testId>-modal` on the dialog, `<testId>-confirm` on its button. */
  testId: string;
  children: ReactNode;
}) {
  const { run, busy, error, clearError } = useAction();
  const close = () => {
    clearError();
    onClose();
  };
  const confirm = async () => {
    const done = await run(async () => {
      await onConfirm();
      return true;
    });
    if (done) close();
  };
  return (
    <Modal opened={opened} onClose={close} title={title} data-testid={`${testId}-modal`}>
      <Stack>
        {children}
        {error && (
          <Alert color="red" role="alert">
            {error}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={close}>
            Cancel
          </Button>
          <Button color="red" loading={busy} onClick={() => void confirm()} data-testid={`${testId}-confirm`}>
            {confirmLabel}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
