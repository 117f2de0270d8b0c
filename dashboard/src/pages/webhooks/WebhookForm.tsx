import { Button, Checkbox, Modal, MultiSelect, Stack, Switch, TextInput, Textarea } from '@mantine/core';
import { useEffect, useState, type FormEvent } from 'react';
import { api, client, type Schemas, type Session } from '../../api/client';
import { EVENT_PATTERNS } from '../../api/event-types';
import { useAction } from '../../api/useAction';
import { FormActions } from '../../components/FormActions';
import { SessionPicker } from '../../components/SessionPicker';

export type Webhook = Schemas['Webhook'];

/** A new Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes. */
function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

/**
 * Creates a webhook or edits one. A secret is shown once: TeleFlow's on creation, or a new one
 * this form makes when "rotate the secret" is ticked while editing.
 */
export function WebhookFormModal({
  opened,
  editing,
  sessions,
  onClose,
  onSaved,
}: {
  opened: boolean;
  /** The webhook to edit; null to create one. */
  editing: Webhook | null;
  sessions: Session[];
  onClose: () => void;
  onSaved: (webhook: Webhook, secret: string | null) => void;
}) {
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<string[]>(['*']);
  const [sessionIds, setSessionIds] = useState<string[]>([]);
  const [description, setDescription] = useState('');
  const [enabled, setEnabled] = useState(true);
  const [rotate, setRotate] = useState(false);
  const { run, busy, error, clearError } = useAction();

  useEffect(() => {
    if (!opened) return;
    setUrl(editing?.url ?? '');
    setEvents(editing?.events ?? ['*']);
    setSessionIds(editing?.sessionIds ?? []);
    setDescription(editing?.description ?? '');
    setEnabled(editing?.enabled ?? true);
    setRotate(false);
    clearError();
  }, [opened, editing, clearError]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body = {
      url: url.trim(),
      events,
      sessionIds: sessionIds.length ? sessionIds : null,
      description: description.trim() || null,
      enabled,
    };
    const saved = await run(async () => {
      if (!editing) {
        // The secret is shown once and kept out of the list's state.
        const { secret, ...created } = await api(client.POST('/api/v1/webhooks', { body }));
        return { webhook: created, secret };
      }
      const secret = rotate ? newSecret() : null;
      const updated = await api(
        client.PUT('/api/v1/webhooks/{id}', {
          params: { path: { id: editing.id } },
          body: { ...body, ...(secret ? { secret } : {}) },
        }),
      );
      const { secret: _shown, ...webhook } = updated;
      return { webhook, secret };
    });
    if (saved) onSaved(saved.webhook, saved.secret);
  };

  return (
    <Modal
      opened={opened}
      onClose={onClose}
      title={editing ? 'Edit the webhook' : 'Create a webhook'}
      size="lg"
    >
      <form onSubmit={(e) => void submit(e)} data-testid="webhook-form">
        <Stack>
          <TextInput
            label="URL"
            description="http(s) address the events are POSTed to, signed with the webhook's secret"
            placeholder="https://example.com/teleflow"
            value={url}
            onChange={(e) => setUrl(e.currentTarget.value)}
            required
            data-testid="webhook-url"
            data-autofocus
          />
          <MultiSelect
            label="Events"
            description="Types, families such as message.*, or * for all"
            data={EVENT_PATTERNS}
            value={events}
            onChange={setEvents}
            searchable
            required
            data-testid="webhook-events"
            comboboxProps={{ withinPortal: true }}
          />
          <SessionPicker
            label="Sessions"
            description="Only events of these sessions; empty: every session"
            sessions={sessions}
            value={sessionIds}
            onChange={setSessionIds}
            testId="webhook-sessions"
          />
          <Textarea
            label="Description"
            value={description}
            onChange={(e) => setDescription(e.currentTarget.value)}
            maxLength={500}
            autosize
            minRows={1}
            data-testid="webhook-description"
          />
          <Switch
            label="Enabled"
            checked={enabled}
            onChange={(e) => setEnabled(e.currentTarget.checked)}
            data-testid="webhook-enabled"
          />
          {editing && (
            <Checkbox
              label="Rotate the secret (the new one is shown once)"
              checked={rotate}
              onChange={(e) => setRotate(e.currentTarget.checked)}
              data-testid="webhook-rotate-secret"
            />
          )}
          <FormActions
            error={error}
            errorTestId="webhook-form-error"
            onCancel={onClose}
            submit={
              <Button
                type="submit"
                loading={busy}
                disabled={!url.trim() || events.length === 0}
                data-testid="webhook-save"
              >
                {editing ? 'Save' : 'Create'}
              </Button>
            }
          />
        </Stack>
      </form>
    </Modal>
  );
}
