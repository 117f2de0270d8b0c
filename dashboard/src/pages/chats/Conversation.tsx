import { Alert, Button, Center, Checkbox, Group, Loader, Paper, Stack, Text, Title } from '@mantine/core';
import { useCallback, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { api, client, errorText, type Chat, type Message } from '../../api/client';
import { useAction } from '../../api/useAction';
import { useApi } from '../../api/useApi';
import { ConfirmModal } from '../../components/ConfirmModal';
import { Composer, type ComposerMode } from './Composer';
import { MessageItem, excerpt, type MessageAction } from './MessageItem';
import { useConversation } from './useConversation';
import { useTyping } from './useTyping';

/** Within this many pixels of the bottom, new messages keep the view at the bottom. */
const STICK_PX = 48;

/**
 * Keeps the message list where the reader is: at the bottom for new messages (when already
 * there, or when the account sent it), and on the same message when older ones are added above.
 */
function useScrollAnchor(messages: Message[]) {
  const box = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const last = useRef<{ first?: number; last?: number; height: number }>({ height: 0 });
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const first = messages[0]?.id;
    const newest = messages[messages.length - 1];
    const before = last.current;
    if (
      before.first !== undefined &&
      first !== undefined &&
      first < before.first &&
      newest?.id === before.last
    ) {
      el.scrollTop += el.scrollHeight - before.height;
    } else if (newest?.id !== before.last && (atBottom.current || newest?.out || before.last === undefined)) {
      el.scrollTop = el.scrollHeight;
    }
    last.current = { first, last: newest?.id, height: el.scrollHeight };
  }, [messages]);
  const onScroll = useCallback(() => {
    const el = box.current;
    if (el) atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_PX;
  }, []);
  return { box, onScroll };
}

const GROUP_TYPES = new Set<Chat['type']>(['group', 'supergroup']);

/** Names of a group's members by user id, so messages show who wrote them (first 200 members). */
function useMemberNames(sessionId: string, chat: Chat): Map<string, string> {
  const members = useApi(async () => {
    if (!GROUP_TYPES.has(chat.type)) return [];
    return api(
      client.GET('/api/v1/chats/{id}/members', {
        params: { path: { id: chat.id }, query: { sessionId, limit: 200 } },
      }),
    ).catch(() => []);
  }, [sessionId, chat.id, chat.type]);
  return useMemo(
    () =>
      new Map(
        (members.data ?? []).map((m) => [
          m.id,
          [m.firstName, m.lastName].filter(Boolean).join(' ') ||
            (m.username ? `@${m.username}` : `user ${m.id}`),
        ]),
      ),
    [members.data],
  );
}

/** One chat of a session: history with paging, live messages, writing, and message actions. */
export function Conversation({
  sessionId,
  chat,
  canWrite,
  onRead,
}: {
  sessionId: string;
  chat: Chat;
  canWrite: boolean;
  onRead: (chatId: string) => void;
}) {
  const conversation = useConversation(sessionId, chat.id);
  const { messages, upsert, remove } = conversation;
  const [mode, setMode] = useState<ComposerMode>({ kind: 'new' });
  const [deleting, setDeleting] = useState<Message | null>(null);
  const [revoke, setRevoke] = useState(true);
  const { run, busy, error, clearError } = useAction();
  const { box, onScroll } = useScrollAnchor(messages);
  const byId = useMemo(() => new Map(messages.map((m) => [m.id, m])), [messages]);
  const names = useMemberNames(sessionId, chat);
  const typing = useTyping(sessionId, chat.id);
  const typingText =
    typing.length === 0
      ? ''
      : chat.type === 'private' || chat.type === 'bot'
        ? 'typing…'
        : `${typing.map((id) => names.get(id) ?? 'someone').join(', ')} ${typing.length > 1 ? 'are' : 'is'} typing…`;

  const onAction = useCallback(
    (action: MessageAction) => {
      if (action.kind === 'reply') return setMode({ kind: 'reply', to: action.message });
      if (action.kind === 'edit') return setMode({ kind: 'edit', message: action.message });
      if (action.kind === 'delete') return setDeleting(action.message);
      void run(() =>
        api(
          client.POST('/api/v1/messages/react', {
            body: { sessionId, chatId: chat.id, messageId: action.message.id, emoji: action.emoji },
          }),
        ),
      ).then((message) => message && upsert([message]));
    },
    [run, sessionId, chat.id, upsert],
  );

  const markRead = () =>
    void run(() => api(client.POST('/api/v1/messages/read', { body: { sessionId, chatId: chat.id } }))).then(
      (result) => result && onRead(chat.id),
    );

  return (
    <Stack gap="xs" className="tf-conversation" data-testid="conversation" data-chat-id={chat.id}>
      <Group justify="space-between" wrap="nowrap">
        <div>
          <Title order={2} size="h4" lineClamp={1}>
            {chat.title || chat.id}
          </Title>
          <Text size="xs" c="dimmed" aria-live="polite" data-testid="typing">
            {typingText}
          </Text>
        </div>
        {canWrite && (
          <Button
            size="compact-sm"
            variant="default"
            loading={busy}
            onClick={markRead}
            data-testid="mark-read"
          >
            Mark as read
          </Button>
        )}
      </Group>
      {(error || Boolean(conversation.error)) && (
        <Alert
          color="red"
          role="alert"
          withCloseButton
          onClose={clearError}
          py={4}
          data-testid="conversation-error"
        >
          {error ?? errorText(conversation.error)}
        </Alert>
      )}
      <Paper
        withBorder
        className="tf-messages"
        ref={box}
        onScroll={onScroll}
        role="log"
        aria-label={`Messages with ${chat.title || chat.id}`}
        tabIndex={0}
        data-testid="message-list"
      >
        <Stack gap={6} p="xs">
          {conversation.hasOlder && messages.length > 0 && (
            <Center>
              <Button
                size="compact-sm"
                variant="subtle"
                loading={conversation.loading}
                onClick={() => void conversation.loadOlder()}
                data-testid="load-older"
              >
                Load older messages
              </Button>
            </Center>
          )}
          {conversation.loading && messages.length === 0 && (
            <Center p="md">
              <Loader aria-label="Loading messages" />
            </Center>
          )}
          {!conversation.loading && messages.length === 0 && !conversation.error && (
            <Text size="sm" c="dimmed" ta="center" p="md">
              No messages yet.
            </Text>
          )}
          {messages.map((message) => (
            <MessageItem
              key={message.id}
              sessionId={sessionId}
              chat={chat}
              message={message}
              repliedTo={
                message.replyToMessageId !== undefined ? byId.get(message.replyToMessageId) : undefined
              }
              senderName={message.senderId ? names.get(message.senderId) : undefined}
              canWrite={canWrite}
              onAction={onAction}
            />
          ))}
        </Stack>
      </Paper>
      {canWrite && (
        <Composer
          sessionId={sessionId}
          chatId={chat.id}
          mode={mode}
          onModeChange={setMode}
          onSent={(message) => upsert([message])}
        />
      )}
      <ConfirmModal
        opened={deleting !== null}
        title="Delete the message?"
        confirmLabel="Delete"
        testId="delete-message"
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          if (!deleting) return;
          await api(
            client.POST('/api/v1/messages/delete', {
              body: { sessionId, chatId: chat.id, messageIds: [deleting.id], revoke },
            }),
          );
          remove([deleting.id]);
        }}
      >
        <Text size="sm">“{excerpt(deleting ?? undefined, 120)}”</Text>
        <Checkbox
          label="Delete for everyone"
          checked={revoke}
          onChange={(e) => setRevoke(e.currentTarget.checked)}
          data-testid="delete-message-revoke"
        />
      </ConfirmModal>
    </Stack>
  );
}
