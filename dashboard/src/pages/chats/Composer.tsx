import { Alert, Button, CloseButton, FileButton, Group, Paper, Text, Textarea } from '@mantine/core';
import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { api, client, type Message } from '../../api/client';
import { useAction } from '../../api/useAction';
import { AttachmentPreview, kindFor, sendMedia, type MediaKind } from './Attachment';
import { excerpt } from './MessageItem';

/** A random key; crypto.randomUUID exists only in secure contexts, and TeleFlow may be plain http. */
function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export type ComposerMode =
  { kind: 'new' } | { kind: 'reply'; to: Message } | { kind: 'edit'; message: Message };

/**
 * Writes a message: a new one, a reply, or an edit of one of the account's own. Enter sends,
 * Shift+Enter starts a new line. Sends carry an Idempotency-Key, so a retry never sends twice.
 */
export function Composer({
  sessionId,
  chatId,
  mode,
  onModeChange,
  onSent,
}: {
  sessionId: string;
  chatId: string;
  mode: ComposerMode;
  onModeChange: (mode: ComposerMode) => void;
  onSent: (message: Message) => void;
}) {
  const [text, setText] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [kind, setKind] = useState<MediaKind>('document');
  const { run, busy, error } = useAction();
  const input = useRef<HTMLTextAreaElement>(null);
  // One key per message being written: a retry after a timeout returns the first send.
  const idempotencyKey = useRef(newIdempotencyKey());

  useEffect(() => {
    if (mode.kind === 'edit') setText(mode.message.text);
    if (mode.kind !== 'new') input.current?.focus();
  }, [mode]);

  const send = async () => {
    const body = text.trim();
    if (!body && !file) return;
    const message = await run(() => {
      if (file && mode.kind !== 'edit') {
        return sendMedia({
          sessionId,
          chatId,
          file,
          kind,
          caption: body,
          replyToMessageId: mode.kind === 'reply' ? mode.to.id : undefined,
          idempotencyKey: idempotencyKey.current,
        });
      }
      if (mode.kind === 'edit') {
        return api(
          client.POST('/api/v1/messages/edit', {
            body: { sessionId, chatId, messageId: mode.message.id, text: body },
          }),
        );
      }
      return api(
        client.POST('/api/v1/messages/send', {
          body: {
            sessionId,
            chatId,
            text: body,
            replyToMessageId: mode.kind === 'reply' ? mode.to.id : undefined,
          },
          params: { header: { 'idempotency-key': idempotencyKey.current } },
        }),
      );
    });
    if (!message) return;
    idempotencyKey.current = newIdempotencyKey();
    setText('');
    setFile(null);
    onModeChange({ kind: 'new' });
    onSent(message);
    input.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void send();
    }
    if (event.key === 'Escape' && mode.kind !== 'new') {
      onModeChange({ kind: 'new' });
      if (mode.kind === 'edit') setText('');
    }
  };

  return (
    <form
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        void send();
      }}
      data-testid="composer"
    >
      {mode.kind !== 'new' && (
        <Paper withBorder px="sm" py={4} mb={4} data-testid="composer-mode" data-mode={mode.kind}>
          <Group justify="space-between" wrap="nowrap">
            <Text size="xs" truncate>
              {mode.kind === 'reply'
                ? `Replying to: ${excerpt(mode.to)}`
                : `Editing message ${mode.message.id}`}
            </Text>
            <CloseButton
              size="sm"
              aria-label={mode.kind === 'reply' ? 'Cancel the reply' : 'Cancel editing'}
              onClick={() => {
                onModeChange({ kind: 'new' });
                if (mode.kind === 'edit') setText('');
              }}
            />
          </Group>
        </Paper>
      )}
      {file && mode.kind !== 'edit' && (
        <AttachmentPreview file={file} kind={kind} onKindChange={setKind} onRemove={() => setFile(null)} />
      )}
      {error && (
        <Alert color="red" role="alert" mb={4} py={4} data-testid="composer-error">
          {error}
        </Alert>
      )}
      <Group align="flex-end" gap="xs" wrap="nowrap">
        {mode.kind !== 'edit' && (
          <FileButton
            onChange={(picked) => {
              setFile(picked);
              if (picked) setKind(kindFor(picked));
              idempotencyKey.current = newIdempotencyKey();
            }}
            inputProps={{ 'aria-label': 'File to attach', 'data-testid': 'attach-input' } as never}
          >
            {(props) => (
              <Button {...props} variant="default" data-testid="attach">
                Attach
              </Button>
            )}
          </FileButton>
        )}
        <Textarea
          ref={input}
          aria-label={file ? 'Caption' : 'Message'}
          placeholder={
            file ? 'Add a caption (optional)' : 'Write a message (Enter sends, Shift+Enter: new line)'
          }
          autosize
          minRows={1}
          maxRows={6}
          flex={1}
          value={text}
          onChange={(e) => setText(e.currentTarget.value)}
          onKeyDown={onKeyDown}
          data-testid="composer-input"
        />
        <Button type="submit" loading={busy} disabled={!text.trim() && !file} data-testid="composer-send">
          {mode.kind === 'edit' ? 'Save' : 'Send'}
        </Button>
      </Group>
    </form>
  );
}
