import { Modal, Tabs, TextInput, Textarea } from '@mantine/core';
import { useState } from 'react';
import { api, client, type Session } from '../../api/client';
import { sessionLabel } from '../../api/sessions';
import { PhoneLogin, SignedIn, StepForm } from './PhoneLogin';
import { QrLogin } from './QrLogin';

/** Adopts an existing GramJS/teleproto StringSession (POST /sessions/import). */
function ImportLogin({ onSession, onClose }: { onSession: (session: Session) => void; onClose: () => void }) {
  const [sessionString, setSessionString] = useState('');
  const [name, setName] = useState('');
  const [done, setDone] = useState<Session | null>(null);
  if (done) return <SignedIn session={done} onClose={onClose} />;
  return (
    <StepForm
      submit={() =>
        api(
          client.POST('/api/v1/sessions/import', {
            body: { sessionString: sessionString.trim(), name: name.trim() || undefined },
          }),
        )
      }
      onDone={(session) => {
        setDone(session);
        onSession(session);
      }}
      label="Import"
      testId="import-submit"
      ready={Boolean(sessionString.trim())}
    >
      <Textarea
        label="Session string"
        description="A GramJS / teleproto StringSession. It is the account: keep it secret."
        required
        autosize
        minRows={3}
        maxRows={6}
        spellCheck={false}
        value={sessionString}
        onChange={(e) => setSessionString(e.currentTarget.value)}
        data-testid="session-string-input"
      />
      <TextInput
        label="Name (optional)"
        value={name}
        onChange={(e) => setName(e.currentTarget.value)}
        data-testid="import-name-input"
      />
    </StepForm>
  );
}

/** The "Add an account" dialog: by phone, by QR code, or from a session string. */
export function AddSessionModal({
  opened,
  opening,
  resume,
  onClose,
  onSession,
}: {
  opened: boolean;
  /** Changes with each opening: the steps start afresh (the dialog itself stays, to return focus). */
  opening: number;
  /** A session waiting for its code or password: the phone steps continue it. */
  resume: Session | null;
  onClose: () => void;
  onSession: (session: Session) => void;
}) {
  const [tab, setTab] = useState<string | null>('phone');
  return (
    <Modal
      opened={opened}
      onClose={onClose}
      title={resume ? `Continue signing in ${sessionLabel(resume)}` : 'Add an account'}
      size="md"
      data-testid="add-session-modal"
    >
      {resume ? (
        <PhoneLogin key={opening} resume={resume} onSession={onSession} onClose={onClose} />
      ) : (
        <Tabs key={opening} value={tab} onChange={setTab} keepMounted={false}>
          <Tabs.List grow mb="md">
            <Tabs.Tab value="phone" data-testid="add-session-phone">
              Phone
            </Tabs.Tab>
            <Tabs.Tab value="qr" data-testid="add-session-qr">
              QR code
            </Tabs.Tab>
            <Tabs.Tab value="import" data-testid="add-session-import">
              Session string
            </Tabs.Tab>
          </Tabs.List>
          <Tabs.Panel value="phone">
            <PhoneLogin resume={null} onSession={onSession} onClose={onClose} />
          </Tabs.Panel>
          <Tabs.Panel value="qr">
            <QrLogin onSession={onSession} onClose={onClose} />
          </Tabs.Panel>
          <Tabs.Panel value="import">
            <ImportLogin onSession={onSession} onClose={onClose} />
          </Tabs.Panel>
        </Tabs>
      )}
    </Modal>
  );
}
