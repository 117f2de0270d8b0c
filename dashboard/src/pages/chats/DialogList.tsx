import { Alert, Badge, Loader, NavLink, Paper, ScrollArea, Text } from '@mantine/core';
import { useCallback, useRef } from 'react';
import { api, client, errorText, type Chat, type TeleFlowEvent } from '../../api/client';
import { useLiveEvents } from '../../api/events';
import { useApi } from '../../api/useApi';
import { href } from '../../router';

const DIALOG_LIMIT = 100;

/** A new message moves its chat to the top; an incoming one elsewhere counts as unread. */
export function bumpChat(
  chats: Chat[],
  chatId: string,
  incoming: boolean,
  openChatId: string | null,
): Chat[] {
  const index = chats.findIndex((c) => c.id === chatId);
  if (index === -1) return chats;
  const chat = chats[index];
  const unread = incoming && chatId !== openChatId ? (chat.unreadCount ?? 0) + 1 : chat.unreadCount;
  return [{ ...chat, unreadCount: unread }, ...chats.slice(0, index), ...chats.slice(index + 1)];
}

/** The session's dialogs, most recent first, kept in order by live messages. */
export function useDialogs(sessionId: string, openChatId: string | null) {
  const dialogs = useApi(
    async () =>
      sessionId
        ? api(client.GET('/api/v1/chats', { params: { query: { sessionId, limit: DIALOG_LIMIT } } }))
        : [],
    [sessionId],
  );
  const { setData, reload } = dialogs;
  const known = useRef(dialogs.data);
  known.current = dialogs.data;
  useLiveEvents(
    useCallback(
      (event: TeleFlowEvent) => {
        if (event.type !== 'message.received' && event.type !== 'message.sent') return;
        const { chatId } = event.data.message;
        // A chat not listed yet (a first message from someone new): fetch the dialogs again.
        if (!known.current?.some((c) => c.id === chatId)) return reload();
        const incoming = event.type === 'message.received';
        setData((chats) => bumpChat(chats ?? [], chatId, incoming, openChatId));
      },
      [setData, reload, openChatId],
    ),
    { sessionId, types: ['message.received', 'message.sent'] },
  );
  /** The chat was read here: its unread count drops to zero. */
  const markRead = useCallback(
    (chatId: string) =>
      setData((chats) => (chats ?? []).map((c) => (c.id === chatId ? { ...c, unreadCount: 0 } : c))),
    [setData],
  );
  return { ...dialogs, markRead };
}

const TYPE_LABELS: Record<Chat['type'], string> = {
  private: 'private chat',
  bot: 'bot',
  group: 'group',
  supergroup: 'supergroup',
  channel: 'channel',
};

export function DialogList({
  sessionId,
  chats,
  loading,
  error,
  openChatId,
}: {
  sessionId: string;
  chats: Chat[] | undefined;
  loading: boolean;
  error: unknown;
  openChatId: string | null;
}) {
  return (
    <Paper withBorder component="nav" aria-label="Chats of the session" data-testid="dialog-list">
      <ScrollArea.Autosize mah="calc(100dvh - 12rem)" type="auto">
        {Boolean(error) && (
          <Alert color="red" role="alert" m="xs">
            {errorText(error)}
          </Alert>
        )}
        {loading && !chats && <Loader m="md" aria-label="Loading chats" />}
        {chats?.length === 0 && (
          <Text p="md" size="sm">
            No chats yet.
          </Text>
        )}
        {chats?.map((chat) => (
          <NavLink
            key={chat.id}
            component="a"
            href={href('/chats', { session: sessionId, chat: chat.id })}
            active={chat.id === openChatId}
            aria-current={chat.id === openChatId ? 'page' : undefined}
            label={chat.title || chat.id}
            description={`${TYPE_LABELS[chat.type]}${chat.username ? ` · @${chat.username}` : ''}`}
            rightSection={
              chat.unreadCount ? (
                <Badge
                  size="sm"
                  variant="filled"
                  circle={chat.unreadCount < 10}
                  aria-label={`${chat.unreadCount} unread`}
                >
                  {chat.unreadCount}
                </Badge>
              ) : null
            }
            data-testid="dialog"
            data-chat-id={chat.id}
          />
        ))}
      </ScrollArea.Autosize>
    </Paper>
  );
}
