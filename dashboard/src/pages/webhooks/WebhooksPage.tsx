import {
  Alert,
  Badge,
  Button,
  Group,
  Loader,
  Paper,
  Stack,
  Table,
  Text,
  Title,
  VisuallyHidden,
} from '@mantine/core';
import { useMemo, useState } from 'react';
import { api, client, errorText } from '../../api/client';
import { sessionLabel, useSessions } from '../../api/sessions';
import { useAction } from '../../api/useAction';
import { useApi } from '../../api/useApi';
import { ShownOnceModal } from '../../components/copy';
import { ConfirmModal } from '../../components/FormActions';
import { Deliveries } from './Deliveries';
import { WebhookFormModal, type Webhook } from './WebhookForm';

/** Webhooks: create and edit with filters (the secret shown once), deliveries with every attempt, tests. */
export function WebhooksPage() {
  const hooks = useApi(() => api(client.GET('/api/v1/webhooks')), []);
  const sessions = useSessions();
  const [form, setForm] = useState<{ editing: Webhook | null } | null>(null);
  const [secret, setSecret] = useState<{ webhook: Webhook; secret: string } | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<Webhook | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const test = useAction();
  const names = useMemo(
    () => new Map((sessions.data ?? []).map((s) => [s.id, sessionLabel(s)])),
    [sessions.data],
  );
  const selectedHook = hooks.data?.find((h) => h.id === selected) ?? null;

  const sendTest = async (webhook: Webhook) => {
    setNotice(null);
    const queued = await test.run(() =>
      api(client.POST('/api/v1/webhooks/{id}/test', { params: { path: { id: webhook.id } }, body: {} })),
    );
    if (!queued) return;
    setNotice(`Test event queued for ${webhook.url}`);
    setSelected(webhook.id);
  };

  const saved = (webhook: Webhook, newSecret: string | null) => {
    setForm(null);
    hooks.setData((list = []) =>
      list.some((h) => h.id === webhook.id)
        ? list.map((h) => (h.id === webhook.id ? webhook : h))
        : [...list, webhook],
    );
    if (newSecret) setSecret({ webhook, secret: newSecret });
  };

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1}>Webhooks</Title>
        <Button onClick={() => setForm({ editing: null })} data-testid="create-webhook">
          Create a webhook
        </Button>
      </Group>
      {hooks.error ? (
        <Alert color="red" role="alert">
          {errorText(hooks.error)}
        </Alert>
      ) : null}
      {test.error && (
        <Alert color="red" role="alert" data-testid="webhook-test-error">
          {test.error}
        </Alert>
      )}
      {notice && (
        <Text size="sm" role="status" data-testid="webhook-notice">
          {notice}
        </Text>
      )}
      {hooks.loading && !hooks.data ? <Loader aria-label="Loading webhooks" /> : null}
      {hooks.data && hooks.data.length === 0 && (
        <Text c="dimmed" size="sm">
          No webhooks yet: create one to have events POSTed to your service, signed and retried.
        </Text>
      )}
      {hooks.data && hooks.data.length > 0 && (
        <Table.ScrollContainer minWidth={760}>
          <Table highlightOnHover data-testid="webhooks-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>URL</Table.Th>
                <Table.Th>Events</Table.Th>
                <Table.Th>Sessions</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {hooks.data.map((h) => (
                <Table.Tr key={h.id} data-testid={`webhook-row-${h.id}`} aria-selected={h.id === selected}>
                  <Table.Td>
                    <Text size="sm" className="tf-mono">
                      {h.url}
                    </Text>
                    {h.description && (
                      <Text size="xs" c="dimmed">
                        {h.description}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4}>
                      {h.events.map((e) => (
                        <Badge key={e} variant="light" size="sm" tt="none">
                          {e}
                        </Badge>
                      ))}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    {h.sessionIds ? h.sessionIds.map((id) => names.get(id) ?? id).join(', ') : 'All'}
                  </Table.Td>
                  <Table.Td>
                    {h.enabled ? (
                      <Badge color="green" variant="light">
                        enabled
                      </Badge>
                    ) : (
                      <Badge color="gray" variant="light" title={h.disabledReason ?? undefined}>
                        disabled
                      </Badge>
                    )}
                    {h.consecutiveFailures > 0 && (
                      <Text size="xs" c="red.9">
                        {h.consecutiveFailures} dead in a row
                      </Text>
                    )}
                    {h.disabledReason && <Text size="xs">{h.disabledReason}</Text>}
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Button
                        size="xs"
                        variant={h.id === selected ? 'filled' : 'default'}
                        onClick={() => setSelected(h.id === selected ? null : h.id)}
                        data-testid={`webhook-deliveries-${h.id}`}
                      >
                        Deliveries
                      </Button>
                      <Button
                        size="xs"
                        variant="default"
                        loading={test.busy}
                        onClick={() => void sendTest(h)}
                        data-testid={`webhook-test-${h.id}`}
                      >
                        Send a test
                      </Button>
                      <Button
                        size="xs"
                        variant="default"
                        onClick={() => setForm({ editing: h })}
                        data-testid={`webhook-edit-${h.id}`}
                      >
                        Edit
                      </Button>
                      <Button
                        size="xs"
                        variant="default"
                        onClick={() => setDeleting(h)}
                        data-testid={`webhook-delete-${h.id}`}
                      >
                        Delete
                      </Button>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {selectedHook && (
        <Paper withBorder p="md">
          <Deliveries key={selectedHook.id} webhook={selectedHook} />
        </Paper>
      )}
      <WebhookFormModal
        opened={form !== null}
        editing={form?.editing ?? null}
        sessions={sessions.data ?? []}
        onClose={() => setForm(null)}
        onSaved={saved}
      />
      <ShownOnceModal
        value={secret?.secret ?? null}
        title="The webhook's secret"
        intro={
          secret &&
          `Receivers verify the signatures of ${secret.webhook.url} with this secret (X-TeleFlow-Signature, or the Standard Webhooks headers).`
        }
        what="secret"
        testId="webhook-secret"
        onClose={() => setSecret(null)}
      />
      <ConfirmModal
        opened={deleting !== null}
        title="Delete the webhook?"
        what={deleting && `${deleting.url} gets no more events, and its delivery log is deleted with it.`}
        actionLabel="Delete"
        testId="webhook-delete-confirm"
        action={() => api(client.DELETE('/api/v1/webhooks/{id}', { params: { path: { id: deleting!.id } } }))}
        onClose={() => setDeleting(null)}
        onDone={() => {
          const id = deleting!.id;
          setDeleting(null);
          if (selected === id) setSelected(null);
          hooks.setData((list) => (list ?? []).filter((h) => h.id !== id));
        }}
      />
    </Stack>
  );
}
