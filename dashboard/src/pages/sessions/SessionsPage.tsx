import { Alert, Button, Group, Loader, Stack, Text, TextInput, Title } from '@mantine/core';
import { useCallback, useMemo, useState } from 'react';
import { api, client, errorText, type Session } from '../../api/client';
import { sessionLabel, useSessions } from '../../api/sessions';
import { useAuth } from '../../auth/AuthContext';
import { STATUS_LABELS } from '../../components/SessionStatusBadge';
import { AddSessionModal } from './AddSession';
import { DeleteSessionModal, ExportSessionModal } from './SessionDialogs';
import { SessionList, type SessionAction } from './SessionList';

function matches(session: Session, query: string): boolean {
  if (!query) return true;
  const haystack = [
    sessionLabel(session),
    session.id,
    session.phone,
    session.user?.username,
    session.user?.id,
    STATUS_LABELS[session.status],
  ]
    .filter(Boolean)
    .join(' ')
    .toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .every((word) => haystack.includes(word));
}

/** Sessions with live status; add an account; connect, disconnect, export, delete. */
export function SessionsPage() {
  const { can } = useAuth();
  const sessions = useSessions();
  const { upsert, remove } = sessions;
  const [query, setQuery] = useState('');
  const [adding, setAdding] = useState<{ resume: Session | null } | null>(null);
  // Each opening of the add dialog starts its steps afresh.
  const [addKey, setAddKey] = useState(0);
  const openAdd = useCallback((resume: Session | null) => {
    setAddKey((k) => k + 1);
    setAdding({ resume });
  }, []);
  const [deleting, setDeleting] = useState<Session | null>(null);
  const [exporting, setExporting] = useState<Session | null>(null);
  const [busyId, setBusyId] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);

  const visible = useMemo(
    () => (sessions.data ?? []).filter((s) => matches(s, query.trim())),
    [sessions.data, query],
  );

  const onAction = useCallback(
    async (action: SessionAction, session: Session): Promise<void> => {
      if (action === 'delete') return setDeleting(session);
      if (action === 'export') return setExporting(session);
      if (action === 'continue') return openAdd(session);
      setBusyId(session.id);
      setActionError(null);
      try {
        const params = { params: { path: { id: session.id } } };
        const next =
          action === 'connect'
            ? await api(client.POST('/api/v1/sessions/{id}/connect', params))
            : await api(client.POST('/api/v1/sessions/{id}/disconnect', params));
        upsert(next);
      } catch (e) {
        setActionError(`${sessionLabel(session)}: ${errorText(e)}`);
      } finally {
        setBusyId(null);
      }
    },
    [upsert, openAdd],
  );

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1}>Sessions</Title>
        {can.addSessions && (
          <Button onClick={() => openAdd(null)} data-testid="add-session">
            Add an account
          </Button>
        )}
      </Group>
      <Group gap="sm" align="flex-end">
        <TextInput
          label="Filter"
          placeholder="name, phone, @username, status"
          value={query}
          onChange={(e) => setQuery(e.currentTarget.value)}
          w={320}
          maw="100%"
          data-testid="session-filter"
        />
        {sessions.data && (
          <Text size="sm" c="dimmed" aria-live="polite" data-testid="session-count">
            {visible.length === sessions.data.length
              ? `${sessions.data.length} sessions`
              : `${visible.length} of ${sessions.data.length} sessions`}
          </Text>
        )}
      </Group>
      {actionError && (
        <Alert
          color="red"
          role="alert"
          withCloseButton
          onClose={() => setActionError(null)}
          data-testid="session-error"
        >
          {actionError}
        </Alert>
      )}
      {sessions.error ? (
        <Alert color="red" role="alert">
          {errorText(sessions.error)}
        </Alert>
      ) : null}
      {sessions.loading && !sessions.data && <Loader aria-label="Loading sessions" />}
      {sessions.data && sessions.data.length === 0 && (
        <Text data-testid="sessions-empty">
          No sessions yet.{can.addSessions ? ' Add a Telegram account to start.' : ''}
        </Text>
      )}
      {visible.length > 0 && <SessionList sessions={visible} can={can} busyId={busyId} onAction={onAction} />}
      <AddSessionModal
        opening={addKey}
        opened={adding !== null}
        resume={adding?.resume ?? null}
        onClose={() => setAdding(null)}
        onSession={upsert}
      />
      <DeleteSessionModal session={deleting} onClose={() => setDeleting(null)} onDeleted={remove} />
      <ExportSessionModal session={exporting} onClose={() => setExporting(null)} />
    </Stack>
  );
}
