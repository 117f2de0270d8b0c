import { Badge } from '@mantine/core';
import type { Session } from '../api/client';

type Status = Session['status'];

const COLORS: Record<Status, string> = {
  connected: 'green',
  connecting: 'blue',
  code_sent: 'violet',
  password_required: 'violet',
  qr_pending: 'violet',
  disconnected: 'gray',
  logged_out: 'red',
  failed: 'red',
};

export const STATUS_LABELS: Record<Status, string> = {
  connected: 'connected',
  connecting: 'connecting',
  code_sent: 'code sent',
  password_required: 'password required',
  qr_pending: 'QR pending',
  disconnected: 'disconnected',
  logged_out: 'logged out',
  failed: 'failed',
};

export function SessionStatusBadge({ status }: { status: Status }) {
  return (
    <Badge color={COLORS[status]} variant="light" data-testid="session-status" data-status={status}>
      {STATUS_LABELS[status]}
    </Badge>
  );
}
