import { Anchor, Button, Group, Paper, Stack, Text } from '@mantine/core';
import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useRef } from 'react';
import type { Session } from '../../api/client';
import { sessionLabel } from '../../api/sessions';
import type { Permissions } from '../../auth/permissions';
import { SessionStatusBadge } from '../../components/SessionStatusBadge';
import { href } from '../../router';

export type SessionAction = 'connect' | 'disconnect' | 'continue' | 'export' | 'delete';

/** The actions a session's state and the key's role allow, in the order they are shown. */
export function actionsFor(session: Session, can: Permissions): SessionAction[] {
  const actions: SessionAction[] = [];
  const { status } = session;
  if (can.write && (status === 'code_sent' || status === 'password_required')) actions.push('continue');
  if (can.write && (status === 'disconnected' || status === 'failed')) actions.push('connect');
  if (can.write && (status === 'connected' || status === 'connecting')) actions.push('disconnect');
  if (can.exportSessions && (status === 'connected' || status === 'disconnected')) actions.push('export');
  if (can.deleteSessions) actions.push('delete');
  return actions;
}

const ACTION_LABELS: Record<SessionAction, string> = {
  continue: 'Continue sign-in',
  connect: 'Connect',
  disconnect: 'Disconnect',
  export: 'Export',
  delete: 'Delete',
};

const SessionRow = memo(function SessionRow({
  session,
  can,
  busy,
  onAction,
}: {
  session: Session;
  can: Permissions;
  busy: boolean;
  onAction: (action: SessionAction, session: Session) => void;
}) {
  const label = sessionLabel(session);
  const user = session.user;
  const details = [
    session.phone,
    user?.username ? `@${user.username}` : null,
    user ? `user ${user.id}` : null,
    `id ${session.id}`,
  ].filter(Boolean);
  return (
    <Group justify="space-between" wrap="wrap" gap="xs" py="xs" px="sm">
      <Stack gap={2} miw={0} flex="1 1 16rem">
        <Group gap="xs">
          <Text fw={600} truncate data-testid="session-name">
            {label}
          </Text>
          <SessionStatusBadge status={session.status} />
        </Group>
        <Text size="xs" c="dimmed" className="tf-mono">
          {details.join(' · ')}
        </Text>
        {session.lastError && (
          <Text size="xs" c="red" data-testid="session-last-error">
            {session.lastError.code}: {session.lastError.message}
          </Text>
        )}
      </Stack>
      <Group gap="xs">
        {session.status === 'connected' && (
          <Anchor href={href('/chats', { session: session.id })} size="sm" aria-label={`Chats of ${label}`}>
            Chats
          </Anchor>
        )}
        {actionsFor(session, can).map((action) => (
          <Button
            key={action}
            size="compact-sm"
            variant={action === 'delete' ? 'outline' : 'default'}
            color={action === 'delete' ? 'red' : undefined}
            disabled={busy}
            onClick={() => onAction(action, session)}
            aria-label={`${ACTION_LABELS[action]} ${label}`}
            data-testid={`session-action-${action}`}
          >
            {ACTION_LABELS[action]}
          </Button>
        ))}
      </Group>
    </Group>
  );
});

/**
 * Sessions as a virtualised list: only the rows in view (and a few around) are rendered, so a
 * thousand sessions scroll as smoothly as ten. Rows are measured, so they may wrap on phones.
 */
export function SessionList({
  sessions,
  can,
  busyId,
  onAction,
}: {
  sessions: Session[];
  can: Permissions;
  busyId: string | null;
  onAction: (action: SessionAction, session: Session) => void;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: sessions.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 76,
    overscan: 8,
    getItemKey: (index) => sessions[index].id,
    // Scrolling re-renders in React's own batches rather than synchronously per scroll event.
    useFlushSync: false,
  });
  return (
    <Paper withBorder className="tf-virtual-scroller" ref={scroller} data-testid="session-list">
      <div
        role="list"
        aria-label="Sessions"
        className="tf-virtual-body"
        style={{ height: virtualizer.getTotalSize() }}
      >
        {virtualizer.getVirtualItems().map((item) => {
          const session = sessions[item.index];
          return (
            <div
              key={item.key}
              role="listitem"
              ref={virtualizer.measureElement}
              data-index={item.index}
              className="tf-virtual-row"
              style={{ transform: `translateY(${item.start}px)` }}
              data-testid="session-row"
              data-session-id={session.id}
              data-status={session.status}
            >
              <SessionRow session={session} can={can} busy={busyId === session.id} onAction={onAction} />
            </div>
          );
        })}
      </div>
    </Paper>
  );
}
