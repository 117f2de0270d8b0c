import { Button, Group, Modal, Stack, Text, type ButtonProps } from '@mantine/core';
import type { ReactNode } from 'react';
import './copy.css';
import { useState } from 'react';

/**
 * Copies text to the clipboard. `navigator.clipboard` exists only in secure contexts (https or
 * localhost); TeleFlow is often opened over plain http at a LAN name, where the old
 * copy-from-a-selection path still works.
 */
export async function copyText(text: string): Promise<boolean> {
  if (window.isSecureContext && navigator.clipboard) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall through to the selection copy
    }
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'tf-offscreen';
  document.body.appendChild(area);
  area.select();
  try {
    return document.execCommand('copy');
  } catch {
    return false;
  } finally {
    area.remove();
  }
}

/** A button that copies `value` and says so for two seconds. */
export function CopyTextButton({
  value,
  label = 'Copy',
  ...props
}: { value: string; label?: string } & Omit<ButtonProps, 'children' | 'onClick'> & {
    'data-testid'?: string;
  }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async () => {
    setState((await copyText(value)) ? 'copied' : 'failed');
    window.setTimeout(() => setState('idle'), 2000);
  };
  return (
    <Button
      variant="default"
      size="xs"
      {...props}
      onClick={() => void copy()}
      color={state === 'failed' ? 'red' : undefined}
    >
      {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed: select the text' : label}
    </Button>
  );
}

/** A secret shown once (a new API key, a webhook secret): copy it now, it is not shown again. */
export function ShownOnce({ value, what, testId }: { value: string; what: string; testId: string }) {
  return (
    <div className="tf-shown-once">
      <p>Copy the {what} now: TeleFlow keeps only a hash of it and will not show it again.</p>
      <code className="tf-mono tf-secret" data-testid={testId}>
        {value}
      </code>
      <CopyTextButton value={value} label={`Copy the ${what}`} mt="xs" />
    </div>
  );
}

/** A dialog around ShownOnce: what was created, the secret, and "I have stored it" to close. */
export function ShownOnceModal({
  value,
  title,
  intro,
  what,
  testId,
  onClose,
}: {
  /** The secret; the dialog is open while it is not null. */
  value: string | null;
  title: string;
  intro: ReactNode;
  what: string;
  testId: string;
  onClose: () => void;
}) {
  return (
    <Modal opened={value !== null} onClose={onClose} title={title} closeOnClickOutside={false}>
      {value !== null && (
        <Stack>
          <Text size="sm">{intro}</Text>
          <ShownOnce value={value} what={what} testId={`${testId}-value`} />
          <Group justify="flex-end">
            <Button onClick={onClose} data-testid={`${testId}-done`}>
              I have stored it
            </Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}
