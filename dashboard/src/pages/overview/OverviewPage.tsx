import {
  Alert,
  Anchor,
  Badge,
  Card,
  Group,
  List,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useEffect, useState, type ReactNode } from 'react';
import { api, apiBody, client, errorText, type Schemas } from '../../api/client';
import { useEventStream, useStreamStatus } from '../../api/events';
import { useSandboxInfo } from '../../api/sandbox';
import { useSessions } from '../../api/sessions';
import { useApi } from '../../api/useApi';
import { useAuth } from '../../auth/AuthContext';
import { STATUS_LABELS, SessionStatusBadge } from '../../components/SessionStatusBadge';
import { href } from '../../router';

const REFRESH_MS = 10_000;

function Tile({ title, testId, children }: { title: string; testId: string; children: ReactNode }) {
  return (
    <Card
      withBorder
      padding="md"
      component="section"
      aria-labelledby={`${testId}-title`}
      data-testid={testId}
    >
      <Title order={2} size="h5" mb="xs" id={`${testId}-title`}>
        {title}
      </Title>
      {children}
    </Card>
  );
}

function Failure({ error }: { error: unknown }) {
  return (
    <Text c="red" size="sm" role="alert">
      {errorText(error)}
    </Text>
  );
}

function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d ? `${d} d ${h} h` : h ? `${h} h ${m} min` : `${m} min`;
}

function HealthTile() {
  const health = useApi(() => apiBody(client.GET('/health')), []);
  const { reload } = health;
  useEffect(() => {
    const timer = setInterval(reload, REFRESH_MS);
    return () => clearInterval(timer);
  }, [reload]);
  const version = useApi(() => apiBody(client.GET('/version')), []);
  return (
    <Tile title="Health" testId="overview-health">
      {health.error ? <Failure error={health.error} /> : null}
      {health.data && (
        <Stack gap={4}>
          <Group gap="xs">
            <Badge
              color={health.data.status === 'ok' ? 'green' : 'red'}
              variant="light"
              data-testid="health-status"
            >
              {health.data.status}
            </Badge>
            <Text size="sm">database {health.data.database.ok ? 'ok' : 'unavailable'}</Text>
          </Group>
          <Text size="sm">up {formatUptime(health.data.uptimeSeconds)}</Text>
        </Stack>
      )}
      {version.data && (
        <Text size="sm" c="dimmed" data-testid="overview-version">
          TeleFlow {version.data.version}
          {version.data.commit ? ` (${version.data.commit.slice(0, 7)})` : ''} · Node {version.data.node}
        </Text>
      )}
    </Tile>
  );
}

function SessionsTile() {
  const sessions = useSessions();
  const counts = new Map<string, number>();
  for (const s of sessions.data ?? []) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  const statuses = Object.keys(STATUS_LABELS).filter((s) => counts.has(s)) as Schemas['Session']['status'][];
  return (
    <Tile title="Sessions" testId="overview-sessions">
      {sessions.error ? <Failure error={sessions.error} /> : null}
      {sessions.data && (
        <Stack gap="xs">
          <Text size="sm">
            <Anchor href={href('/sessions')}>{sessions.data.length} sessions</Anchor>
          </Text>
          <Group gap="xs">
            {statuses.map((status) => (
              <Group key={status} gap={4} data-testid={`overview-sessions-${status}`}>
                <SessionStatusBadge status={status} />
                <Text size="sm" fw={600}>
                  {counts.get(status)}
                </Text>
              </Group>
            ))}
          </Group>
        </Stack>
      )}
    </Tile>
  );
}

function EventsTile() {
  const stream = useEventStream();
  const status = useStreamStatus();
  const [perMinute, setPerMinute] = useState(0);
  useEffect(() => {
    if (!stream) return;
    const update = () => setPerMinute(stream.eventsLastMinute());
    update();
    const timer = setInterval(update, 1000);
    return () => clearInterval(timer);
  }, [stream]);
  return (
    <Tile title="Events" testId="overview-events">
      <Text size="xl" fw={700} data-testid="events-per-minute">
        {perMinute}
      </Text>
      <Text size="sm" c="dimmed">
        events in the last minute (since this page opened) · stream {status}
      </Text>
      <Anchor href={href('/events')} size="sm">
        Event monitor
      </Anchor>
    </Tile>
  );
}

type Webhook = Schemas['Webhook'];
interface WebhookHealth {
  webhook: Webhook;
  failing: number;
  dead: number;
}

async function loadFailingWebhooks(): Promise<WebhookHealth[]> {
  const webhooks = await api(client.GET('/api/v1/webhooks'));
  const health = await Promise.all(
    webhooks.map(async (webhook) => {
      const count = async (status: 'failed' | 'dead') =>
        (
          await api(
            client.GET('/api/v1/webhooks/{id}/deliveries', {
              params: { path: { id: webhook.id }, query: { status, limit: 100 } },
            }),
          )
        ).length;
      const [failing, dead] = await Promise.all([count('failed'), count('dead')]);
      return { webhook, failing, dead };
    }),
  );
  return health.filter(
    (h) => h.failing > 0 || h.dead > 0 || h.webhook.consecutiveFailures > 0 || h.webhook.disabledReason,
  );
}

function WebhooksTile() {
  const failing = useApi(loadFailingWebhooks, []);
  return (
    <Tile title="Failing webhooks" testId="overview-webhooks">
      {failing.error ? <Failure error={failing.error} /> : null}
      {failing.data && failing.data.length === 0 && <Text size="sm">None: every webhook delivers.</Text>}
      {failing.data && failing.data.length > 0 && (
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>URL</Table.Th>
              <Table.Th>Retrying</Table.Th>
              <Table.Th>Dead</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {failing.data.map(({ webhook, failing: retrying, dead }) => (
              <Table.Tr key={webhook.id} data-testid="failing-webhook">
                <Table.Td>
                  <Anchor href={href('/webhooks', { id: webhook.id })} size="sm" className="tf-mono">
                    {webhook.url}
                  </Anchor>
                  {webhook.disabledReason && (
                    <Text size="xs" c="red">
                      disabled: {webhook.disabledReason}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>{retrying >= 100 ? '100+' : retrying}</Table.Td>
                <Table.Td>{dead >= 100 ? '100+' : dead}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Tile>
  );
}

function SandboxTile() {
  const { can } = useAuth();
  const sandbox = useSandboxInfo(can.sandbox);
  if (!sandbox.data) return null;
  return (
    <Tile title="Sandbox" testId="overview-sandbox">
      <Text size="sm">A local Telegram runs inside this TeleFlow.</Text>
      <List size="sm" spacing={2}>
        {sandbox.data.dcs.map((dc) => (
          <List.Item key={dc.id}>
            DC {dc.id}:{' '}
            <span className="tf-mono">
              {dc.host}:{dc.port}
            </span>
          </List.Item>
        ))}
        <List.Item>
          control API: <span className="tf-mono">{sandbox.data.controlUrl}</span>
        </List.Item>
      </List>
      <Anchor href={href('/sandbox')} size="sm">
        Sandbox users and login codes
      </Anchor>
    </Tile>
  );
}

/** Health, version, sessions by status, the event rate, failing webhooks and the sandbox. */
export function OverviewPage() {
  const { can } = useAuth();
  return (
    <Stack>
      <Title order={1}>Overview</Title>
      {can.role === 'viewer' && (
        <Alert color="blue" variant="light">
          This key is read-only (viewer): actions are not offered.
        </Alert>
      )}
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
        <HealthTile />
        <SessionsTile />
        <EventsTile />
        {can.manageWebhooks && <WebhooksTile />}
        <SandboxTile />
      </SimpleGrid>
    </Stack>
  );
}
