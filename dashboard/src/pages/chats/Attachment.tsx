import { CloseButton, Group, Image, NativeSelect, Paper, Text } from '@mantine/core';
import { useEffect, useState } from 'react';
import { api, client, type Message, type Schemas } from '../../api/client';

export type MediaKind = Schemas['Media']['kind'];

const KIND_LABELS: Record<MediaKind, string> = {
  photo: 'Photo',
  video: 'Video',
  animation: 'Animation (GIF)',
  document: 'File',
  audio: 'Audio',
  voice: 'Voice message',
  video_note: 'Round video',
  sticker: 'Sticker',
};

/** How a file is sent unless the user says otherwise: by its type, as Telegram apps do. */
export function kindFor(file: File): MediaKind {
  if (/^image\/(jpeg|png|webp)$/.test(file.type) && file.size <= 10 * 1024 * 1024) return 'photo';
  if (file.type === 'image/gif') return 'animation';
  if (file.type.startsWith('video/')) return 'video';
  if (file.type.startsWith('audio/')) return 'audio';
  return 'document';
}

/** Sends a file with its caption as one multipart request (POST /messages/send-media). */
export function sendMedia(input: {
  sessionId: string;
  chatId: string;
  file: File;
  kind: MediaKind;
  caption: string;
  replyToMessageId?: number;
  idempotencyKey: string;
}): Promise<Message> {
  const form = new FormData();
  form.set('sessionId', input.sessionId);
  form.set('chatId', input.chatId);
  form.set('kind', input.kind);
  if (input.caption) form.set('caption', input.caption);
  if (input.replyToMessageId !== undefined) form.set('replyToMessageId', String(input.replyToMessageId));
  // The file goes last: the server reads the fields before it streams the file.
  form.set('file', input.file, input.file.name);
  return api(
    client.POST('/api/v1/messages/send-media', {
      body: form as never,
      bodySerializer: (body: unknown) => body as FormData,
      params: { header: { 'idempotency-key': input.idempotencyKey } },
    }),
  );
}

/** The file about to be sent: a preview for images, its name and size, how to send it, remove. */
export function AttachmentPreview({
  file,
  kind,
  onKindChange,
  onRemove,
}: {
  file: File;
  kind: MediaKind;
  onKindChange: (kind: MediaKind) => void;
  onRemove: () => void;
}) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!file.type.startsWith('image/')) return;
    const objectUrl = URL.createObjectURL(file);
    setUrl(objectUrl);
    return () => URL.revokeObjectURL(objectUrl);
  }, [file]);
  return (
    <Paper withBorder px="sm" py={4} mb={4} data-testid="attachment">
      <Group justify="space-between" wrap="nowrap" align="center">
        <Group gap="sm" wrap="nowrap" miw={0}>
          {url && <Image src={url} alt={`Preview of ${file.name}`} w={48} h={48} fit="cover" radius="sm" />}
          <Text size="xs" truncate>
            {file.name} · {(file.size / 1024).toFixed(0)} kB
          </Text>
          <NativeSelect
            aria-label="Send as"
            size="xs"
            value={kind}
            onChange={(e) => onKindChange(e.currentTarget.value as MediaKind)}
            data={Object.entries(KIND_LABELS).map(([value, label]) => ({ value, label }))}
            data-testid="attachment-kind"
          />
        </Group>
        <CloseButton
          size="sm"
          aria-label={`Remove ${file.name}`}
          onClick={onRemove}
          data-testid="attachment-remove"
        />
      </Group>
    </Paper>
  );
}
