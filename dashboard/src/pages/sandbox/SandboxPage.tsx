import {
  Alert,
  Badge,
  Button,
  Code,
  Group,
  Loader,
  Paper,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useEffect } from 'react';
import { api, client, errorText } from '../../api/client';
import { useSandboxInfo } from '../../api/sandbox';
import { useApi } from '../../api/useApi';
import { AcceptQrForm, CreateChatForm, CreateUserForm, LookUpCodeForm, SendAsUserForm } from './SandboxForms';

/** Login codes arrive when a sign-in starts elsewhere: the list is read again this often. */
const REFRESH_MS = 3000;

/**
 * The embedded sandbox (admin, only when it runs): its users with their login codes, and acting
 * as one of them: send a message, create a group or channel, accept a QR login.
 */
export function SandboxPage() {
  const info = useSandboxInfo(true);
  const users = useApi(() => api(client.GET('/api/v1/sandbox/users')), []);
  const { reload } = users;
  useEffect(() => {
    const timer = window.setInterval(reload, REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [reload]);
  const phones = (users.data ?? []).map((u) => ({
    value: u.phone,
    label: `${[u.firstName, u.lastName].filter(Boolean).join(' ')} (${u.phone})`,
  }));

  if (info.loading && !info.data) return <Loader aria-label="Loading the sandbox" />;
  if (!info.data)
    return (
      <Stack>
        <Title order={1}>Sandbox</Title>
        <Text>No sandbox runs in this TeleFlow (TELEGRAM_SANDBOX=true starts one).</Text>
      </Stack>
    );

  return (
    <Stack>
      <Title order={1}>Sandbox</Title>
      <Text size="sm" c="dimmed">
        A local Telegram: any phone signs in (99966XYYYY gets the code XXXXX), and these forms act as its
        users through TeleFlow. Data centres:{' '}
        {info.data.dcs.map((dc) => `${dc.id} ${dc.host}:${dc.port}`).join(', ')}; control API{' '}
        {info.data.controlUrl} (this machine only).
      </Text>

      <Paper withBorder p="md">
        <Stack gap="sm">
          <Group justify="space-between">
            <Title order={2} size="h3">
              Users and login codes
            </Title>
            <Button size="xs" variant="default" onClick={reload} data-testid="sandbox-refresh">
              Refresh
            </Button>
          </Group>
          {users.error ? (
            <Alert color="red" role="alert">
              {errorText(users.error)}
            </Alert>
          ) : null}
          {users.data && users.data.length === 0 && (
            <Text size="sm" c="dimmed">
              No users yet: sign an account in, or create a user below.
            </Text>
          )}
          {users.data && users.data.length > 0 && (
            <Table.ScrollContainer
              minWidth={640}
              // Scrolls sideways on a phone: reachable by keyboard too.
              scrollAreaProps={{
                viewportProps: { tabIndex: 0, role: 'region', 'aria-label': 'Sandbox users' },
              }}
            >
              <Table striped data-testid="sandbox-users">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Phone</Table.Th>
                    <Table.Th>Name</Table.Th>
                    <Table.Th>Username</Table.Th>
                    <Table.Th>Last login code</Table.Th>
                    <Table.Th>2FA</Table.Th>
                    <Table.Th>DC</Table.Th>
                    <Table.Th>Apps</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {users.data.map((u) => (
                    <Table.Tr key={u.id} data-testid={`sandbox-user-${u.phone}`}>
                      <Table.Td className="tf-mono">{u.phone}</Table.Td>
                      <Table.Td>
                        {[u.firstName, u.lastName].filter(Boolean).join(' ')}
                        {u.online && (
                          <Badge ml="xs" size="xs" color="green" variant="light">
                            online
                          </Badge>
                        )}
                      </Table.Td>
                      <Table.Td>{u.username ? `@${u.username}` : '—'}</Table.Td>
                      <Table.Td>
                        {u.lastCode ? (
                          <Code fz="sm" data-testid={`sandbox-code-${u.phone}`}>
                            {u.lastCode}
                          </Code>
                        ) : (
                          '—'
                        )}
                      </Table.Td>
                      <Table.Td>{u.twoFactor ? 'on' : 'off'}</Table.Td>
                      <Table.Td>{u.dc}</Table.Td>
                      <Table.Td>{u.authorizations}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
          <LookUpCodeForm />
        </Stack>
      </Paper>

      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Paper withBorder p="md">
          <SendAsUserForm phones={phones} />
        </Paper>
        <Paper withBorder p="md">
          <AcceptQrForm phones={phones} />
        </Paper>
        <Paper withBorder p="md">
          <CreateChatForm phones={phones} />
        </Paper>
        <Paper withBorder p="md">
          <CreateUserForm onCreated={reload} />
        </Paper>
      </SimpleGrid>
    </Stack>
  );
}
