import { useCallback, useEffect, useState } from 'react';
import { api, client, type Message, type TeleFlowEvent } from '../../api/client';
import { useLiveEvents } from '../../api/events';

export const PAGE_SIZE = 30;

/** Messages in id order (oldest first), each once; `incoming` replaces those with the same id. */
export function mergeMessages(current: Message[], incoming: Message[]): Message[] {
  const byId = new Map(current.map((m) => [m.id, m]));
  for (const m of incoming) byId.set(m.id, m);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

interface State {
  key: string;
  messages: Message[];
  hasOlder: boolean;
  loading: boolean;
  error: unknown;
}

/**
 * One conversation: its latest page of history, older pages on demand (GET /messages/history
 * with offsetId), and live message.* events of the chat merged in (new, edited, deleted).
 */
export function useConversation(sessionId: string, chatId: string) {
  const key = `${sessionId}/${chatId}`;
  const [state, setState] = useState<State>({
    key,
    messages: [],
    hasOlder: true,
    loading: true,
    error: null,
  });
  // A state left from another chat is never shown (the effect below replaces it).
  const current =
    state.key === key ? state : { key, messages: [], hasOlder: true, loading: true, error: null };

  const fetchPage = useCallback(
    (offsetId?: number) =>
      api(
        client.GET('/api/v1/messages/history', {
          params: { query: { sessionId, chatId, limit: PAGE_SIZE, offsetId } },
        }),
      ),
    [sessionId, chatId],
  );

  useEffect(() => {
    let live = true;
    setState({ key, messages: [], hasOlder: true, loading: true, error: null });
    fetchPage().then(
      (page) =>
        live &&
        setState((s) => ({
          key,
          messages: mergeMessages(s.key === key ? s.messages : [], page),
          hasOlder: page.length === PAGE_SIZE,
          loading: false,
          error: null,
        })),
      (error: unknown) => live && setState({ key, messages: [], hasOlder: false, loading: false, error }),
    );
    return () => {
      live = false;
    };
  }, [key, fetchPage]);

  const loadOlder = useCallback(async () => {
    const oldest = current.messages[0]?.id;
    setState((s) => ({ ...s, loading: true }));
    try {
      const page = await fetchPage(oldest);
      setState((s) =>
        s.key === key
          ? {
              ...s,
              messages: mergeMessages(s.messages, page),
              hasOlder: page.length === PAGE_SIZE,
              loading: false,
            }
          : s,
      );
    } catch (error) {
      setState((s) => (s.key === key ? { ...s, loading: false, error } : s));
    }
  }, [current.messages, fetchPage, key]);

  /** Puts messages a call returned (sent, edited, reacted) in place at once. */
  const upsert = useCallback(
    (messages: Message[]) =>
      setState((s) =>
        s.key === key
          ? {
              ...s,
              messages: mergeMessages(
                s.messages,
                messages.filter((m) => m.chatId === chatId),
              ),
            }
          : s,
      ),
    [key, chatId],
  );
  const remove = useCallback(
    (ids: number[]) =>
      setState((s) =>
        s.key === key ? { ...s, messages: s.messages.filter((m) => !ids.includes(m.id)) } : s,
      ),
    [key],
  );

  useLiveEvents(
    useCallback(
      (event: TeleFlowEvent) => {
        if (event.type === 'message.deleted') {
          // Telegram names no chat for private chats and basic groups: their ids are unique per account.
          if (event.data.chatId === null || event.data.chatId === chatId) remove(event.data.messageIds);
          return;
        }
        if (event.type === 'message.edited') {
          const edited = event.data.message;
          setState((s) =>
            s.key === key && s.messages.some((m) => m.id === edited.id && m.chatId === edited.chatId)
              ? { ...s, messages: mergeMessages(s.messages, [edited]) }
              : s,
          );
          return;
        }
        if (event.type === 'message.received' || event.type === 'message.sent') upsert([event.data.message]);
      },
      [chatId, key, remove, upsert],
    ),
    { sessionId, types: ['message.received', 'message.sent', 'message.edited', 'message.deleted'] },
  );

  return { ...current, loadOlder, upsert, remove };
}
