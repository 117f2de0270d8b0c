import { Text } from '@mantine/core';
import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useLayoutEffect, useRef } from 'react';
import type { TeleFlowEvent } from '../../api/client';
import type { LoggedEvent } from './useEventLog';

/** Every row has this height, so the list can keep a reader's place as new rows arrive on top. */
const ROW_HEIGHT = 52;

/** A line about the event: a message's text, a chat's title, a session's status. */
export function summary(event: TeleFlowEvent): string {
  const data = event.data as Record<string, any>;
  const message = data.message as Record<string, any> | undefined;
  if (message)
    return [message.chatId, message.text ?? (message.media ? `[${message.media.kind}]` : '')]
      .filter(Boolean)
      .join(': ');
  if (data.session)
    return `${data.session.status}${data.session.lastError ? `: ${data.session.lastError.message}` : ''}`;
  if (data.chat) return data.chat.title ?? data.chat.id ?? '';
  const text = JSON.stringify(data);
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}

const Row = memo(function Row({
  event,
  sessionName,
  selected,
  onSelect,
}: {
  event: TeleFlowEvent;
  sessionName: string | undefined;
  selected: boolean;
  onSelect: (event: TeleFlowEvent) => void;
}) {
  return (
    <button
      type="button"
      className="tf-event-row"
      aria-pressed={selected}
      onClick={() => onSelect(event)}
      data-testid="event-row"
      data-event-id={event.id}
      data-type={event.type}
    >
      <span className="tf-event-id tf-mono">{event.id}</span>
      <span className="tf-event-head">
        <span className="tf-event-type">{event.type}</span>
        <span className="tf-event-session">{event.sessionId ? (sessionName ?? event.sessionId) : '—'}</span>
      </span>
      <span className="tf-event-time">{new Date(event.timestamp).toLocaleTimeString()}</span>
      <span className="tf-event-summary">{summary(event)}</span>
    </button>
  );
});

/**
 * The events, newest first, virtualised: only the rows in view (and a few around) are in the
 * DOM, so 10,000 events scroll as smoothly as ten.
 */
export function EventList({
  events,
  names,
  selectedId,
  onSelect,
}: {
  events: LoggedEvent[];
  names: Map<string, string>;
  selectedId: string | null;
  onSelect: (event: TeleFlowEvent) => void;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: events.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
    getItemKey: (index) => events[index].event.id,
  });

  // New events go on top: someone reading further down keeps their place.
  const newest = useRef<string | null>(null);
  useLayoutEffect(() => {
    const element = scroller.current;
    const top = events[0]?.event.id ?? null;
    if (element && newest.current !== null && top !== newest.current && element.scrollTop > 0) {
      const added = events.findIndex((e) => e.event.id === newest.current);
      if (added > 0) element.scrollTop += added * ROW_HEIGHT;
    }
    newest.current = top;
  }, [events]);

  if (events.length === 0)
    return (
      <div className="tf-events-empty" data-testid="events-empty">
        <Text size="sm" c="dimmed">
          No events yet. They appear here as they happen.
        </Text>
      </div>
    );

  return (
    <div
      ref={scroller}
      className="tf-virtual-scroller tf-events-scroller"
      data-testid="events-list"
      role="region"
      aria-label="Events, newest first"
      tabIndex={0}
    >
      <div className="tf-virtual-body" style={{ height: virtualizer.getTotalSize() }}>
        {virtualizer.getVirtualItems().map((item) => {
          const { event } = events[item.index];
          return (
            <div
              key={item.key}
              className="tf-virtual-row"
              style={{ height: ROW_HEIGHT, transform: `translateY(${item.start}px)` }}
            >
              <Row
                event={event}
                sessionName={event.sessionId ? names.get(event.sessionId) : undefined}
                selected={event.id === selectedId}
                onSelect={onSelect}
              />
            </div>
          );
        })}
      </div>
    </div>
  );
}
