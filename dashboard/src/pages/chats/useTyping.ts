import { useCallback, useEffect, useState } from 'react';
import type { TeleFlowEvent } from '../../api/client';
import { useLiveEvents } from '../../api/events';

/** Telegram repeats a typing action every few seconds while it lasts; it is shown this long. */
const TYPING_MS = 6000;

function without(typing: Map<string, number>, userId: string): Map<string, number> {
  if (!typing.has(userId)) return typing;
  const next = new Map(typing);
  next.delete(userId);
  return next;
}

/** Who is typing in a chat right now (user ids), from user.typing events; a message ends it. */
export function useTyping(sessionId: string, chatId: string): string[] {
  const [typing, setTyping] = useState<Map<string, number>>(new Map());
  useLiveEvents(
    useCallback(
      (event: TeleFlowEvent) => {
        if (event.type === 'user.typing' && event.data.chatId === chatId) {
          const { userId, action } = event.data;
          setTyping((current) =>
            action === 'cancel'
              ? without(current, userId)
              : new Map(current).set(userId, Date.now() + TYPING_MS),
          );
        }
        if (event.type === 'message.received' && event.data.message.chatId === chatId) {
          const sender = event.data.message.senderId;
          if (sender) setTyping((current) => without(current, sender));
        }
      },
      [chatId],
    ),
    { sessionId, types: ['user.typing', 'message.received'] },
  );
  useEffect(() => {
    if (typing.size === 0) return;
    const soonest = Math.min(...typing.values());
    const timer = setTimeout(
      () => setTyping((current) => new Map([...current].filter(([, until]) => until > Date.now()))),
      Math.max(0, soonest - Date.now()) + 50,
    );
    return () => clearTimeout(timer);
  }, [typing]);
  return [...typing.keys()];
}
