import {
  Alert,
  Badge,
  Button,
  Group,
  Loader,
  Modal,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  VisuallyHidden,
} from '@mantine/core';
import { useMemo, useState, type FormEvent } from 'react';
import { api, client, errorText, type Role, type Schemas } from '../../api/client';
import { sessionLabel, useSessions } from '../../api/sessions';
import { useAction } from '../../api/useAction';
import { useApi } from '../../api/useApi';
import { useAuth } from '../../auth/AuthContext';
import { ShownOnceModal } from '../../components/copy';
import { ConfirmModal, FormActions } from '../../components/FormActions';
import { SessionPicker } from '../../components/SessionPicker';

type ApiKey = Schemas['ApiKey'];
type CreatedKey = Schemas['CreatedApiKey'];

const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
const ROLE_HELP: Record<Role, string> = {
  admin: 'Everything, including keys, webhooks and session export',
  operator: 'Sessions, messages, chats, events',
  viewer: 'Reads and event streams only',
};

function formatDate(value: string | null | undefined): string {
  return value ? new Date(value).toLocaleString() : '—';
}

/** API keys: create (with a role and a session limit; the key shown once), list, revoke. */
export function ApiKeysPage() {
  const { me } = useAuth();
  const keys = useApi(() => api(client.GET('/api/v1/auth/keys')), []);
  const sessions = useSessions();
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const names = useMemo(
    () => new Map((sessions.data ?? []).map((s) => [s.id, sessionLabel(s)])),
    [sessions.data],
  );

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1}>API keys</Title>
        <Button onClick={() => setCreating(true)} data-testid="create-key">
          Create a key
        </Button>
      </Group>
      <Text size="sm" c="dimmed">
        Keys are stored as hashes: a key is shown once, when it is created. The bootstrap key (API_KEY) is not
        listed.
      </Text>
      {keys.error ? (
        <Alert color="red" role="alert">
          {errorText(keys.error)}
        </Alert>
      ) : null}
      {keys.loading && !keys.data ? <Loader aria-label="Loading keys" /> : null}
      {keys.data && (
        <Table.ScrollContainer minWidth={640}>
          <Table striped highlightOnHover data-testid="keys-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Prefix</Table.Th>
                <Table.Th>Role</Table.Th>
                <Table.Th>Sessions</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Last used</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {keys.data.length === 0 && (
                <Table.Tr>
                  <Table.Td colSpan={7}>
                    <Text size="sm" c="dimmed">
                      No keys yet.
                    </Text>
                  </Table.Td>
                </Table.Tr>
              )}
              {keys.data.map((key) => (
                <Table.Tr key={key.id} data-testid={`key-row-${key.id}`} data-key-name={key.name}>
                  <Table.Td>
                    {key.name}
                    {key.id === me.apiKey.id && (
                      <Badge ml="xs" size="xs" variant="outline">
                        this key
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td className="tf-mono">{key.prefix}…</Table.Td>
                  <Table.Td>
                    <Badge variant="light">{key.role}</Badge>
                  </Table.Td>
                  <Table.Td>
                    {key.sessionIds ? key.sessionIds.map((id) => names.get(id) ?? id).join(', ') : 'All'}
                  </Table.Td>
                  <Table.Td>{formatDate(key.createdAt)}</Table.Td>
                  <Table.Td>{formatDate(key.lastUsedAt)}</Table.Td>
                  <Table.Td>
                    <Button
                      size="xs"
                      variant="default"
                      color="red"
                      onClick={() => setRevoking(key)}
                      data-testid={`revoke-key-${key.id}`}
                      aria-label={`Revoke the key ${key.name}`}
                    >
                      Revoke
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <CreateKeyModal
        opened={creating}
        onClose={() => setCreating(false)}
        maxRole={me.role}
        limitedTo={me.apiKey.sessionIds}
        sessions={sessions.data ?? []}
        onCreated={(key) => {
          setCreating(false);
          setCreated(key);
          keys.reload();
        }}
      />
      <ShownOnceModal
        value={created?.key ?? null}
        title="Key created"
        intro={
          created && (
            <>
              <strong>{created.name}</strong> ({created.role}
              {created.sessionIds ? `, limited to ${created.sessionIds.length} session(s)` : ''})
            </>
          )
        }
        what="key"
        testId="created-key"
        onClose={() => setCreated(null)}
      />
      <ConfirmModal
        opened={revoking !== null}
        title="Revoke the key?"
        what={
          revoking && (
            <>
              <strong>{revoking.name}</strong> ({revoking.prefix}…) stops working at once, and so do the
              tokens issued for it and the event streams opened with it.
            </>
          )
        }
        actionLabel="Revoke"
        testId="revoke-key-confirm"
        action={() =>
          api(client.DELETE('/api/v1/auth/keys/{id}', { params: { path: { id: revoking!.id } } }))
        }
        onClose={() => setRevoking(null)}
        onDone={() => {
          const id = revoking!.id;
          setRevoking(null);
          keys.setData((list) => (list ?? []).filter((k) => k.id !== id));
        }}
      />
    </Stack>
  );
}

function CreateKeyModal({
  opened,
  onClose,
  maxRole,
  limitedTo,
  sessions,
  onCreated,
}: {
  opened: boolean;
  onClose: () => void;
  maxRole: Role;
  limitedTo: string[] | null;
  sessions: Schemas['Session'][];
  onCreated: (key: CreatedKey) => void;
}) {
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [sessionIds, setSessionIds] = useState<string[]>([]);
  const { run, busy, error, clearError } = useAction();
  // No key creates a key above its own role, nor beyond its own sessions.
  const roles = (Object.keys(ROLE_RANK) as Role[]).filter((r) => ROLE_RANK[r] <= ROLE_RANK[maxRole]);
  const choosable = limitedTo ? sessions.filter((s) => limitedTo.includes(s.id)) : sessions;

  const close = () => {
    setName('');
    setRole('viewer');
    setSessionIds([]);
    clearError();
    onClose();
  };
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const key = await run(() =>
      api(
        client.POST('/api/v1/auth/keys', {
          body: { name: name.trim(), role, ...(sessionIds.length ? { sessionIds } : {}) },
        }),
      ),
    );
    if (!key) return;
    setName('');
    setSessionIds([]);
    onCreated(key);
  };

  return (
    <Modal opened={opened} onClose={close} title="Create an API key">
      <form onSubmit={(e) => void submit(e)} data-testid="create-key-form">
        <Stack>
          <TextInput
            label="Name"
            description="Who or what uses it, e.g. ci or billing-service"
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            required
            maxLength={100}
            data-testid="key-name"
            data-autofocus
          />
          <Select
            label="Role"
            description={ROLE_HELP[role]}
            data={roles.map((r) => ({ value: r, label: r }))}
            value={role}
            onChange={(value) => value && setRole(value as Role)}
            allowDeselect={false}
            data-testid="key-role"
            comboboxProps={{ withinPortal: true }}
          />
          <SessionPicker
            label="Sessions"
            description={
              limitedTo ? 'At least one of your own sessions (empty: all of yours)' : 'Empty: every session'
            }
            sessions={choosable}
            value={sessionIds}
            onChange={setSessionIds}
            testId="key-sessions"
          />
          <FormActions
            error={error}
            errorTestId="create-key-error"
            onCancel={close}
            submit={
              <Button type="submit" loading={busy} disabled={!name.trim()} data-testid="create-key-submit">
                Create
              </Button>
            }
          />
        </Stack>
      </form>
    </Modal>
  );
}
