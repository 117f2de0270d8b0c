import { Badge, Button, Group, MultiSelect, Select, Stack, Text, TextInput, Title } from '@mantine/core';
import { useDeferredValue, useMemo, useState, type FormEvent } from 'react';
import type { TeleFlowEvent } from '../../api/client';
import { EVENT_PATTERNS } from '../../api/event-types';
import { sessionLabel, useSessions } from '../../api/sessions';
import { useAuth } from '../../auth/AuthContext';
import { EventDetail } from './EventDetail';
import { EventList } from './EventList';
import { useEventLog } from './useEventLog';
import './events.css';

const STATUS_TEXT = {
  connecting: 'connecting',
  open: 'live',
  reconnecting: 'reconnecting',
  closed: 'closed',
};

/**
 * The live event monitor: filters by type and session (applied by the server), a search in the
 * payloads (here), pause, replay from an event id, and each event's JSON to copy.
 */
export function EventsPage() {
  const { token } = useAuth();
  const sessions = useSessions();
  const [types, setTypes] = useState<string[]>([]);
  const [sessionId, setSessionId] = useState<string | null>(null);
  const [since, setSince] = useState<string | null>(null);
  const [replayInput, setReplayInput] = useState('');
  const [paused, setPaused] = useState(false);
  const [search, setSearch] = useState('');
  const [selected, setSelected] = useState<TeleFlowEvent | null>(null);
  const log = useEventLog({ token, types: types.join(','), sessionId, since, paused });

  const query = useDeferredValue(search.trim().toLowerCase());
  const shown = useMemo(
    () => (query ? log.events.filter((e) => e.haystack.includes(query)) : log.events),
    [log.events, query],
  );
  const names = useMemo(
    () => new Map((sessions.data ?? []).map((s) => [s.id, sessionLabel(s)])),
    [sessions.data],
  );

  const replay = (event: FormEvent) => {
    event.preventDefault();
    const id = replayInput.trim();
    if (!/^\d+$/.test(id)) return;
    setSelected(null);
    setSince(id);
  };
  const replayAfter = (id: string) => {
    setReplayInput(id);
    setSelected(null);
    setSince(id);
  };

  return (
    <Stack gap="sm">
      <Group justify="space-between" align="flex-end">
        <Title order={1}>Events</Title>
        <Group gap="xs">
          <Badge
            color={log.status === 'open' ? 'green' : 'gray'}
            variant="light"
            data-testid="events-status"
            data-status={log.status}
          >
            {paused ? 'paused' : STATUS_TEXT[log.status]}
          </Badge>
          <Text size="sm" data-testid="events-count" aria-live="off">
            {shown.length === log.events.length
              ? `${log.events.length} events`
              : `${shown.length} of ${log.events.length} events`}
          </Text>
        </Group>
      </Group>

      <Group gap="sm" align="flex-end" wrap="wrap">
        <MultiSelect
          label="Types"
          placeholder={types.length ? undefined : 'All types'}
          data={EVENT_PATTERNS}
          value={types}
          onChange={setTypes}
          searchable
          clearable
          w={280}
          data-testid="events-types"
          comboboxProps={{ withinPortal: true }}
        />
        <Select
          label="Session"
          placeholder="All sessions"
          data={(sessions.data ?? []).map((s) => ({ value: s.id, label: sessionLabel(s) }))}
          value={sessionId}
          onChange={setSessionId}
          clearable
          searchable
          w={220}
          data-testid="events-session"
          comboboxProps={{ withinPortal: true }}
        />
        <TextInput
          label="Search in payloads"
          placeholder="text, id, phone…"
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          w={220}
          data-testid="events-search"
        />
        <Button
          variant={paused ? 'filled' : 'default'}
          onClick={() => setPaused((p) => !p)}
          aria-pressed={paused}
          data-testid="events-pause"
        >
          {paused ? `Resume${log.pending ? ` (${log.pending} new)` : ''}` : 'Pause'}
        </Button>
        <Button variant="default" onClick={log.clear} data-testid="events-clear">
          Clear
        </Button>
      </Group>

      <form onSubmit={replay} aria-label="Replay">
        <Group gap="sm" align="flex-end">
          <TextInput
            label="Replay after event id"
            description="Events after this id from the log (kept for EVENT_RETENTION_DAYS), then live"
            value={replayInput}
            onChange={(e) => setReplayInput(e.currentTarget.value)}
            inputMode="numeric"
            pattern="[0-9]*"
            w={260}
            data-testid="events-replay-id"
          />
          <Button
            type="submit"
            variant="default"
            disabled={!/^\d+$/.test(replayInput.trim())}
            data-testid="events-replay"
          >
            Replay
          </Button>
          {since && (
            <Button
              variant="subtle"
              onClick={() => {
                setSince(null);
                setReplayInput('');
              }}
              data-testid="events-live"
            >
              Live only
            </Button>
          )}
          {since && (
            <Text size="sm" data-testid="events-replaying">
              Replaying after {since}
            </Text>
          )}
        </Group>
      </form>

      <div className="tf-events-layout">
        <EventList
          events={shown}
          names={names}
          selectedId={selected?.id ?? null}
          onSelect={setSelected}
        />
        {selected && (
          <EventDetail
            event={selected}
            sessionName={selected.sessionId ? names.get(selected.sessionId) : undefined}
            onClose={() => setSelected(null)}
            onReplayAfter={() => replayAfter(selected.id)}
          />
        )}
      </div>
    </Stack>
  );
}
