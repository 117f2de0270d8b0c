import { useCallback } from 'react';
import { api, client, type Session, type TeleFlowEvent } from './client';
import { useLiveEvents } from './events';
import { useApi } from './useApi';

/** The session a session.* event carries (its data.session), or null for other events. */
export function sessionOfEvent(event: TeleFlowEvent): Session | null {
  if (!event.type.startsWith('session.')) return null;
  return (event.data as { session?: Session }).session ?? null;
}

/** Applies a session.* event to a list: updated in place, added, or removed when deleted. */
export function applySessionEvent(list: Session[], event: TeleFlowEvent): Session[] {
  const session = sessionOfEvent(event);
  if (!session) return list;
  if (event.type === 'session.deleted') return list.filter((s) => s.id !== session.id);
  const index = list.findIndex((s) => s.id === session.id);
  if (index === -1) return [...list, session];
  const next = list.slice();
  next[index] = session;
  return next;
}

/** The sessions the key may see, kept current by session.* events. */
export function useSessions() {
  const state = useApi(() => api(client.GET('/api/v1/sessions')), []);
  const { setData } = state;
  useLiveEvents(
    useCallback((event: TeleFlowEvent) => setData((list) => applySessionEvent(list ?? [], event)), [setData]),
    { types: ['session.*'] },
  );
  /** Puts a session returned by a call (login step, connect, ...) into the list at once. */
  const upsert = useCallback(
    (session: Session) =>
      setData((list) =>
        applySessionEvent(list ?? [], { type: 'session.connected', data: { session } } as TeleFlowEvent),
      ),
    [setData],
  );
  const remove = useCallback(
    (id: string) => setData((list) => (list ?? []).filter((s) => s.id !== id)),
    [setData],
  );
  return { ...state, upsert, remove };
}

/** How a session is named in lists: its name, the user, or the phone. */
export function sessionLabel(session: Session): string {
  const user = session.user;
  const person = user
    ? [user.firstName, user.lastName].filter(Boolean).join(' ') || (user.username ? `@${user.username}` : '')
    : '';
  return session.name || person || session.phone || session.id;
}
