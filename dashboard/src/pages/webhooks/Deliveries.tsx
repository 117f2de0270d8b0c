import {
  Alert,
  Badge,
  Button,
  Code,
  Group,
  Loader,
  SegmentedControl,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { Fragment, useCallback, useEffect, useState } from 'react';
import { api, apiPage, client, errorText, type Schemas } from '../../api/client';
import { useAction } from '../../api/useAction';
import type { Webhook } from './WebhookForm';

type Delivery = Schemas['WebhookDelivery'];
type DeliveryDetail = Schemas['WebhookDeliveryDetail'];
type StatusFilter = 'all' | Delivery['status'];

const STATUS_COLOR: Record<Delivery['status'], string> = {
  pending: 'gray',
  failed: 'orange',
  succeeded: 'green',
  dead: 'red',
};
/** Deliveries change by themselves (retries): the open list is read again this often. */
const REFRESH_MS = 3000;
const PAGE = 20;

export function DeliveryStatus({ status }: { status: Delivery['status'] }) {
  return (
    <Badge color={STATUS_COLOR[status]} variant="light">
      {status}
    </Badge>
  );
}

/** A webhook's deliveries, newest first and refreshed while shown, each with every attempt. */
export function Deliveries({ webhook }: { webhook: Webhook }) {
  const [status, setStatus] = useState<StatusFilter>('all');
  const [items, setItems] = useState<Delivery[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [pages, setPages] = useState(1);
  const [error, setError] = useState<unknown>(null);
  const [open, setOpen] = useState<string | null>(null);
  const bulk = useAction();
  const [bulkResult, setBulkResult] = useState<string | null>(null);

  const load = useCallback(async () => {
    // Reads as many pages as are shown, so "load more" survives the refresh.
    let all: Delivery[] = [];
    let next: string | null = null;
    for (let page = 0; page < pages; page++) {
      const result: { items: Delivery[]; nextCursor: string | null } = await apiPage(
        client.GET('/api/v1/webhooks/{id}/deliveries', {
          params: {
            path: { id: webhook.id },
            query: {
              limit: PAGE,
              ...(status === 'all' ? {} : { status }),
              ...(next ? { cursor: next } : {}),
            },
          },
        }),
      );
      all = all.concat(result.items);
      next = result.nextCursor;
      if (!next) break;
    }
    return { all, next };
  }, [webhook.id, status, pages]);

  useEffect(() => {
    let current = true;
    const refresh = () =>
      load().then(
        ({ all, next }) => {
          if (!current) return;
          setItems(all);
          setCursor(next);
          setError(null);
        },
        (cause: unknown) => current && setError(cause),
      );
    void refresh();
    const timer = window.setInterval(() => void refresh(), REFRESH_MS);
    return () => {
      current = false;
      window.clearInterval(timer);
    };
  }, [load]);

  const redeliverDead = async () => {
    const result = await bulk.run(() =>
      api(
        client.POST('/api/v1/webhooks/{id}/deliveries/redeliver', {
          params: { path: { id: webhook.id } },
          body: { status: 'dead' },
        }),
      ),
    );
    if (result) setBulkResult(`${result.count} dead deliveries queued again`);
  };

  return (
    <Stack data-testid="deliveries" gap="sm">
      <Group justify="space-between">
        <Title order={2} size="h3">
          Deliveries of {webhook.url}
        </Title>
        <Group gap="xs">
          <SegmentedControl
            size="xs"
            aria-label="Delivery status"
            data={['all', 'pending', 'failed', 'succeeded', 'dead']}
            value={status}
            onChange={(value) => {
              setStatus(value as StatusFilter);
              setPages(1);
            }}
          />
          <Button size="xs" variant="default" loading={bulk.busy} onClick={() => void redeliverDead()}>
            Redeliver dead
          </Button>
        </Group>
      </Group>
      {bulkResult && <Text size="sm">{bulkResult}</Text>}
      {bulk.error && (
        <Alert color="red" role="alert">
          {bulk.error}
        </Alert>
      )}
      {error ? (
        <Alert color="red" role="alert">
          {errorText(error)}
        </Alert>
      ) : null}
      {!items && !error && <Loader aria-label="Loading deliveries" />}
      {items && items.length === 0 && (
        <Text size="sm" c="dimmed" data-testid="no-deliveries">
          No deliveries yet. Send a test event to see one.
        </Text>
      )}
      {items && items.length > 0 && (
        <Table.ScrollContainer minWidth={720}>
          <Table data-testid="deliveries-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Event</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Attempts</Table.Th>
                <Table.Th>Last answer</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Next attempt</Table.Th>
                <Table.Th>Details</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((d) => (
                <Fragment key={d.id}>
                  <Table.Tr data-testid={`delivery-row-${d.id}`} data-status={d.status}>
                    <Table.Td>
                      <Text size="sm">{d.eventType}</Text>
                      <Text size="xs" c="dimmed" className="tf-mono">
                        {d.eventId}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <DeliveryStatus status={d.status} />
                    </Table.Td>
                    <Table.Td>{d.attempts}</Table.Td>
                    <Table.Td>
                      {d.lastStatusCode ?? d.lastError ?? '—'}
                      {d.lastDurationMs !== null ? ` (${d.lastDurationMs} ms)` : ''}
                    </Table.Td>
                    <Table.Td>{new Date(d.createdAt).toLocaleString()}</Table.Td>
                    <Table.Td>{d.nextAttemptAt ? new Date(d.nextAttemptAt).toLocaleString() : '—'}</Table.Td>
                    <Table.Td>
                      <Button
                        size="xs"
                        variant="subtle"
                        aria-expanded={open === d.id}
                        onClick={() => setOpen(open === d.id ? null : d.id)}
                        data-testid={`delivery-open-${d.id}`}
                      >
                        {open === d.id ? 'Hide' : 'Attempts'}
                      </Button>
                    </Table.Td>
                  </Table.Tr>
                  {open === d.id && (
                    <Table.Tr>
                      <Table.Td colSpan={7}>
                        <Attempts webhookId={webhook.id} delivery={d} />
                      </Table.Td>
                    </Table.Tr>
                  )}
                </Fragment>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {cursor && (
        <Button
          variant="default"
          size="xs"
          onClick={() => setPages((p) => p + 1)}
          data-testid="deliveries-more"
        >
          Load more
        </Button>
      )}
    </Stack>
  );
}

/** Every attempt of one delivery, read again when the delivery changes; redeliver. */
function Attempts({ webhookId, delivery }: { webhookId: string; delivery: Delivery }) {
  const [detail, setDetail] = useState<DeliveryDetail | null>(null);
  const [error, setError] = useState<unknown>(null);
  const redeliver = useAction();
  const params = { path: { id: webhookId, deliveryId: delivery.id } };

  useEffect(() => {
    let current = true;
    api(client.GET('/api/v1/webhooks/{id}/deliveries/{deliveryId}', { params })).then(
      (d) => current && setDetail(d),
      (cause: unknown) => current && setError(cause),
    );
    return () => {
      current = false;
    };
    // Read again when the list's refresh shows a new attempt or status.
  }, [webhookId, delivery.id, delivery.attempts, delivery.status]);

  const again = async () => {
    const updated = await redeliver.run(() =>
      api(client.POST('/api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver', { params })),
    );
    if (updated) setDetail((d) => (d ? { ...d, ...updated } : d));
  };

  return (
    <Stack gap="xs" data-testid={`delivery-attempts-${delivery.id}`}>
      {error ? (
        <Alert color="red" role="alert">
          {errorText(error)}
        </Alert>
      ) : null}
      {!detail && !error && <Loader size="sm" aria-label="Loading attempts" />}
      {detail && detail.attemptLog.length === 0 && (
        <Text size="sm" c="dimmed">
          Not attempted yet.
        </Text>
      )}
      {detail?.attemptLog.map((a) => (
        <Group key={a.attempt} gap="sm" align="flex-start" wrap="nowrap" data-testid="delivery-attempt">
          <Badge variant="outline" color={a.statusCode !== null && a.statusCode < 300 ? 'green' : 'red'}>
            #{a.attempt}
          </Badge>
          <Stack gap={2}>
            <Text size="sm">
              {new Date(a.at).toLocaleString()}:{' '}
              {a.statusCode !== null ? `HTTP ${a.statusCode}` : 'no answer'} in {a.durationMs} ms
            </Text>
            {a.error && (
              <Text size="sm" c="red.9">
                {a.error}
              </Text>
            )}
            {a.responseExcerpt && (
              <Code block className="tf-mono">
                {a.responseExcerpt}
              </Code>
            )}
          </Stack>
        </Group>
      ))}
      <Group>
        <Button
          size="xs"
          variant="default"
          loading={redeliver.busy}
          onClick={() => void again()}
          data-testid={`redeliver-${delivery.id}`}
        >
          Redeliver now
        </Button>
        {redeliver.error && (
          <Text size="sm" c="red.9" role="alert">
            {redeliver.error}
          </Text>
        )}
      </Group>
    </Stack>
  );
}
