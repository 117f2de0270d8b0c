import {
  Alert,
  Button,
  Code,
  Group,
  MultiSelect,
  PasswordInput,
  SegmentedControl,
  Select,
  Stack,
  Text,
  TextInput,
  Textarea,
  Title,
} from '@mantine/core';
import { useState, type FormEvent, type ReactNode } from 'react';
import { api, client } from '../../api/client';
import { useAction } from '../../api/useAction';

type Phones = { value: string; label: string }[];

/** One form of the page: a heading, the fields, a submit button, its error and its result. */
function ActionForm({
  title,
  testId,
  submitLabel,
  busy,
  error,
  result,
  disabled,
  onSubmit,
  children,
}: {
  title: string;
  testId: string;
  submitLabel: string;
  busy: boolean;
  error: string | null;
  result: ReactNode;
  disabled?: boolean;
  onSubmit: () => void;
  children: ReactNode;
}) {
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSubmit();
  };
  return (
    <form onSubmit={submit} data-testid={testId} aria-label={title}>
      <Stack gap="sm">
        <Title order={2} size="h4">
          {title}
        </Title>
        {children}
        {error && (
          <Alert color="red" role="alert" data-testid={`${testId}-error`}>
            {error}
          </Alert>
        )}
        {result && (
          <Text size="sm" role="status" data-testid={`${testId}-result`}>
            {result}
          </Text>
        )}
        <Group justify="flex-end">
          <Button type="submit" loading={busy} disabled={disabled} data-testid={`${testId}-submit`}>
            {submitLabel}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function UserSelect({
  phones,
  label,
  value,
  onChange,
  testId,
}: {
  phones: Phones;
  label: string;
  value: string | null;
  onChange: (phone: string | null) => void;
  testId: string;
}) {
  return (
    <Select
      label={label}
      data={phones}
      value={value}
      onChange={onChange}
      searchable
      required
      nothingFoundMessage="No such user"
      data-testid={testId}
      comboboxProps={{ withinPortal: true }}
    />
  );
}

export function SendAsUserForm({ phones }: { phones: Phones }) {
  const [from, setFrom] = useState<string | null>(null);
  const [to, setTo] = useState('');
  const [text, setText] = useState('');
  const [result, setResult] = useState<string | null>(null);
  const { run, busy, error } = useAction();
  const send = async () => {
    setResult(null);
    const sent = await run(() =>
      api(client.POST('/api/v1/sandbox/messages', { body: { from: from!, to: to.trim(), text } })),
    );
    if (!sent) return;
    setResult(`Sent message ${sent.id} to ${sent.chatId}`);
    setText('');
  };
  return (
    <ActionForm
      title="Send a message as a user"
      testId="sandbox-send"
      submitLabel="Send"
      busy={busy}
      error={error}
      result={result}
      disabled={!from || !to.trim() || !text}
      onSubmit={() => void send()}
    >
      <UserSelect phones={phones} label="From" value={from} onChange={setFrom} testId="sandbox-send-from" />
      <TextInput
        label="To"
        description="A phone, @username or chat id (-123, -100123), as the sender sees it"
        value={to}
        onChange={(e) => setTo(e.currentTarget.value)}
        required
        data-testid="sandbox-send-to"
      />
      <Textarea
        label="Text"
        value={text}
        onChange={(e) => setText(e.currentTarget.value)}
        required
        maxLength={4096}
        autosize
        minRows={2}
        data-testid="sandbox-send-text"
      />
    </ActionForm>
  );
}

export function CreateChatForm({ phones }: { phones: Phones }) {
  const [type, setType] = useState<'group' | 'supergroup' | 'channel'>('group');
  const [title, setTitle] = useState('');
  const [owner, setOwner] = useState<string | null>(null);
  const [members, setMembers] = useState<string[]>([]);
  const [result, setResult] = useState<ReactNode>(null);
  const { run, busy, error } = useAction();
  const create = async () => {
    setResult(null);
    const chat = await run(() =>
      api(
        client.POST('/api/v1/sandbox/chats', {
          body: { type, title: title.trim(), owner: owner!, ...(members.length ? { members } : {}) },
        }),
      ),
    );
    if (!chat) return;
    setResult(
      <>
        Created the {type} <Code>{chat.id}</Code>
      </>,
    );
    setTitle('');
  };
  return (
    <ActionForm
      title="Create a group or channel"
      testId="sandbox-chat"
      submitLabel="Create"
      busy={busy}
      error={error}
      result={result}
      disabled={!owner || !title.trim()}
      onSubmit={() => void create()}
    >
      <SegmentedControl
        aria-label="Kind of chat"
        data={[
          { value: 'group', label: 'Group' },
          { value: 'supergroup', label: 'Supergroup' },
          { value: 'channel', label: 'Channel' },
        ]}
        value={type}
        onChange={(value) => setType(value as typeof type)}
        data-testid="sandbox-chat-type"
      />
      <TextInput
        label="Title"
        value={title}
        onChange={(e) => setTitle(e.currentTarget.value)}
        required
        maxLength={128}
        data-testid="sandbox-chat-title"
      />
      <UserSelect
        phones={phones}
        label="Owner"
        value={owner}
        onChange={setOwner}
        testId="sandbox-chat-owner"
      />
      <MultiSelect
        label="Members"
        data={phones.filter((p) => p.value !== owner)}
        value={members}
        onChange={setMembers}
        searchable
        data-testid="sandbox-chat-members"
        comboboxProps={{ withinPortal: true }}
      />
    </ActionForm>
  );
}

export function AcceptQrForm({ phones }: { phones: Phones }) {
  const [phone, setPhone] = useState<string | null>(null);
  const [token, setToken] = useState('');
  const [result, setResult] = useState<string | null>(null);
  const { run, busy, error } = useAction();
  const accept = async () => {
    setResult(null);
    const accepted = await run(() =>
      api(
        client.POST('/api/v1/sandbox/login-tokens/accept', { body: { phone: phone!, token: token.trim() } }),
      ),
    );
    if (!accepted) return;
    setResult(`Accepted: the waiting session signs in as user ${accepted.userId}`);
    setToken('');
  };
  return (
    <ActionForm
      title="Accept a QR login"
      testId="sandbox-qr"
      submitLabel="Accept"
      busy={busy}
      error={error}
      result={result}
      disabled={!phone || !token.trim()}
      onSubmit={() => void accept()}
    >
      <Text size="sm" c="dimmed">
        As when a user scans the code with a signed-in app: paste the tg://login?token=… link shown under a QR
        code on the Sessions page.
      </Text>
      <UserSelect phones={phones} label="User" value={phone} onChange={setPhone} testId="sandbox-qr-user" />
      <TextInput
        label="QR link or token"
        value={token}
        onChange={(e) => setToken(e.currentTarget.value)}
        required
        data-testid="sandbox-qr-token"
      />
    </ActionForm>
  );
}

export function CreateUserForm({ onCreated }: { onCreated: () => void }) {
  const [phone, setPhone] = useState('');
  const [firstName, setFirstName] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [result, setResult] = useState<string | null>(null);
  const { run, busy, error } = useAction();
  const create = async () => {
    setResult(null);
    const user = await run(() =>
      api(
        client.POST('/api/v1/sandbox/users', {
          body: {
            phone: phone.trim(),
            ...(firstName.trim() ? { firstName: firstName.trim() } : {}),
            ...(username.trim() ? { username: username.trim().replace(/^@/, '') } : {}),
            ...(password ? { password } : {}),
          },
        }),
      ),
    );
    if (!user) return;
    setResult(`Created user ${user.id} (${user.phone}) on DC ${user.dc}`);
    setPhone('');
    setFirstName('');
    setUsername('');
    setPassword('');
    onCreated();
  };
  return (
    <ActionForm
      title="Create a user"
      testId="sandbox-user"
      submitLabel="Create"
      busy={busy}
      error={error}
      result={result}
      disabled={!phone.trim()}
      onSubmit={() => void create()}
    >
      <TextInput
        label="Phone"
        value={phone}
        onChange={(e) => setPhone(e.currentTarget.value)}
        required
        data-testid="sandbox-user-phone"
      />
      <TextInput
        label="First name"
        value={firstName}
        onChange={(e) => setFirstName(e.currentTarget.value)}
        data-testid="sandbox-user-first-name"
      />
      <TextInput
        label="Username"
        value={username}
        onChange={(e) => setUsername(e.currentTarget.value)}
        data-testid="sandbox-user-username"
      />
      <PasswordInput
        label="2FA password"
        description="Optional: turns on two-step verification"
        value={password}
        onChange={(e) => setPassword(e.currentTarget.value)}
        data-testid="sandbox-user-password"
      />
    </ActionForm>
  );
}

export function LookUpCodeForm() {
  const [phone, setPhone] = useState('');
  const [result, setResult] = useState<ReactNode>(null);
  const { run, busy, error } = useAction();
  const lookUp = async () => {
    setResult(null);
    const code = await run(() =>
      api(client.GET('/api/v1/sandbox/codes', { params: { query: { phone: phone.trim() } } })),
    );
    if (code)
      setResult(
        <>
          Last code sent to {code.phone}: <Code data-testid="sandbox-lookup-code">{code.code}</Code>
        </>,
      );
  };
  return (
    <ActionForm
      title="A code sent to a phone that is no user yet"
      testId="sandbox-lookup"
      submitLabel="Look up"
      busy={busy}
      error={error}
      result={result}
      disabled={!phone.trim()}
      onSubmit={() => void lookUp()}
    >
      <TextInput
        label="Phone"
        value={phone}
        onChange={(e) => setPhone(e.currentTarget.value)}
        required
        data-testid="sandbox-lookup-phone"
      />
    </ActionForm>
  );
}
