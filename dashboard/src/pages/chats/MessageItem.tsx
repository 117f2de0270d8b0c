import { ActionIcon, Badge, Group, Menu, Paper, Text } from '@mantine/core';
import { memo } from 'react';
import type { Chat, Message } from '../../api/client';
import { MediaPreview } from './MediaPreview';

export const REACTIONS = ['👍', '❤️', '😂', '🔥', '👎'] as const;

export type MessageAction =
  | { kind: 'reply'; message: Message }
  | { kind: 'edit'; message: Message }
  | { kind: 'delete'; message: Message }
  | { kind: 'react'; message: Message; emoji: string | null };

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const day = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

function sender(message: Message, chat: Chat, name: string | undefined): string {
  if (message.out) return 'You';
  if (chat.type === 'private' || chat.type === 'bot' || chat.type === 'channel') return chat.title;
  return name ?? (message.senderId ? `user ${message.senderId}` : chat.title);
}

/** A short quote of a message, for replies. */
export function excerpt(message: Message | undefined, max = 60): string {
  if (!message) return '';
  const text = message.text || (message.media ? `[${message.media.kind}]` : '');
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function MessageMenu({ message, onAction }: { message: Message; onAction: (action: MessageAction) => void }) {
  return (
    <Menu position="bottom-end" withinPortal>
      <Menu.Target>
        <ActionIcon
          variant="subtle"
          color="gray"
          aria-label={`Actions for message ${message.id}`}
          data-testid="message-actions"
        >
          ⋯
        </ActionIcon>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Item onClick={() => onAction({ kind: 'reply', message })} data-testid="message-reply">
          Reply
        </Menu.Item>
        {message.out && !message.media && (
          <Menu.Item onClick={() => onAction({ kind: 'edit', message })} data-testid="message-edit">
            Edit
          </Menu.Item>
        )}
        <Menu.Divider />
        <Menu.Label>React</Menu.Label>
        <Group gap={2} px="xs" pb={4}>
          {REACTIONS.map((emoji) => (
            <Menu.Item
              key={emoji}
              w="auto"
              onClick={() => onAction({ kind: 'react', message, emoji })}
              aria-label={`React with ${emoji}`}
              data-testid="message-react"
              data-emoji={emoji}
            >
              {emoji}
            </Menu.Item>
          ))}
        </Group>
        {message.reactions?.length ? (
          <Menu.Item onClick={() => onAction({ kind: 'react', message, emoji: null })}>
            Remove my reaction
          </Menu.Item>
        ) : null}
        <Menu.Divider />
        <Menu.Item
          color="red"
          onClick={() => onAction({ kind: 'delete', message })}
          data-testid="message-delete"
        >
          Delete…
        </Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}

/** One message: who and when, what it replies to, its text or file, reactions, and its actions. */
export const MessageItem = memo(function MessageItem({
  sessionId,
  chat,
  message,
  repliedTo,
  senderName,
  canWrite,
  onAction,
}: {
  sessionId: string;
  chat: Chat;
  message: Message;
  repliedTo: Message | undefined;
  /** The sender's name in a group, when known. */
  senderName: string | undefined;
  canWrite: boolean;
  onAction: (action: MessageAction) => void;
}) {
  const date = new Date(message.date);
  return (
    <Group
      justify={message.out ? 'flex-end' : 'flex-start'}
      align="flex-start"
      gap={4}
      wrap="nowrap"
      data-testid="message"
      data-message-id={message.id}
      data-out={message.out}
    >
      <Paper
        className={message.out ? 'tf-bubble tf-bubble-out' : 'tf-bubble'}
        px="sm"
        py={6}
        radius="md"
        withBorder
      >
        <Text size="xs" fw={600}>
          {sender(message, chat, senderName)}
        </Text>
        {message.forwardedFrom && (
          <Text size="xs" c="dimmed">
            Forwarded from {message.forwardedFrom.name ?? message.forwardedFrom.senderId ?? 'a hidden user'}
          </Text>
        )}
        {message.replyToMessageId !== undefined && (
          <Text size="xs" c="dimmed" className="tf-reply-quote" data-testid="message-reply-to">
            ↪ {repliedTo ? excerpt(repliedTo) : `message ${message.replyToMessageId}`}
          </Text>
        )}
        {message.media && <MediaPreview sessionId={sessionId} media={message.media} />}
        {message.text && (
          <Text size="sm" className="tf-message-text" data-testid="message-text">
            {message.text}
          </Text>
        )}
        <Group gap={6} justify="flex-end" mt={2}>
          {message.reactions?.map((r) => (
            <Badge key={r.emoji} variant="default" size="sm" data-testid="message-reaction">
              {r.emoji} {r.count}
            </Badge>
          ))}
          <Text size="xs" c="dimmed" component="time" dateTime={message.date} title={day.format(date)}>
            {message.editDate ? 'edited · ' : ''}
            {time.format(date)}
          </Text>
        </Group>
      </Paper>
      {canWrite && <MessageMenu message={message} onAction={onAction} />}
    </Group>
  );
});
