import { Alert, Anchor, Loader, Select, Stack, Text, Title } from '@mantine/core';
import { ApiError, api, client, errorText, type Chat } from '../../api/client';
import { sessionLabel, useSessions } from '../../api/sessions';
import { useApi } from '../../api/useApi';
import { useAuth } from '../../auth/AuthContext';
import { STATUS_LABELS } from '../../components/SessionStatusBadge';
import { href, navigate, useRoute } from '../../router';
import { Conversation } from './Conversation';
import { DialogList, useDialogs } from './DialogList';
import './chats.css';

/** The open chat: from the dialog list, or asked for when it is not among the listed ones. */
function useOpenChat(sessionId: string | null, chatId: string | null, listed: Chat[] | undefined) {
  const fromList = listed?.find((c) => c.id === chatId);
  const fetched = useApi<Chat | null>(async () => {
    if (!sessionId || !chatId || !listed || fromList) return null;
    try {
      return await api(
        client.GET('/api/v1/chats/{id}', { params: { path: { id: chatId }, query: { sessionId } } }),
      );
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }, [sessionId, chatId, Boolean(listed), Boolean(fromList)]);
  return fromList ?? fetched.data ?? null;
}

/** A session's dialogs and one conversation; on phones one of the two at a time. */
export function ChatsPage() {
  const { can } = useAuth();
  const route = useRoute();
  const sessions = useSessions();
  const connected = (sessions.data ?? []).filter((s) => s.status === 'connected');
  const sessionId = route.params.get('session') ?? connected[0]?.id ?? null;
  const chatId = route.params.get('chat');
  const dialogs = useDialogs(sessionId ?? '', chatId);
  const chat = useOpenChat(sessionId, chatId, sessionId ? dialogs.data : undefined);

  if (sessions.loading && !sessions.data) return <Loader aria-label="Loading sessions" />;
  const selectable = (sessions.data ?? []).map((s) => ({
    value: s.id,
    label: `${sessionLabel(s)}${s.status === 'connected' ? '' : ` (${STATUS_LABELS[s.status]})`}`,
  }));

  return (
    <Stack gap="sm">
      <Title order={1}>Chats</Title>
      {sessions.error ? (
        <Alert color="red" role="alert">
          {errorText(sessions.error)}
        </Alert>
      ) : null}
      {selectable.length === 0 ? (
        <Text>
          No sessions yet. <Anchor href={href('/sessions')}>Add an account</Anchor> to see its chats.
        </Text>
      ) : (
        <Select
          label="Session"
          data={selectable}
          value={sessionId}
          onChange={(value) => value && navigate('/chats', { session: value })}
          allowDeselect={false}
          searchable
          w={360}
          maw="100%"
          data-testid="chat-session"
        />
      )}
      {sessionId && (
        <div className={chatId ? 'tf-chats tf-chats-open' : 'tf-chats'}>
          <div className="tf-chats-list">
            <DialogList
              sessionId={sessionId}
              chats={dialogs.data}
              loading={dialogs.loading}
              error={dialogs.error}
              openChatId={chatId}
            />
          </div>
          <div className="tf-chats-conversation">
            <Anchor href={href('/chats', { session: sessionId })} size="sm" className="tf-chats-back">
              ← All chats
            </Anchor>
            {chat ? (
              <Conversation
                key={`${sessionId}/${chat.id}`}
                sessionId={sessionId}
                chat={chat}
                canWrite={can.write}
                onRead={dialogs.markRead}
              />
            ) : (
              <Text c="dimmed" p="md">
                {chatId ? 'This chat is not available.' : 'Pick a chat.'}
              </Text>
            )}
          </div>
        </div>
      )}
    </Stack>
  );
}
