import { Button, Code, Group, Paper, Stack, Text, Title } from '@mantine/core';
import type { TeleFlowEvent } from '../../api/client';
import { CopyTextButton } from '../../components/copy';

/** One event's envelope as JSON, to read and copy; replay the log from after it. */
export function EventDetail({
  event,
  sessionName,
  onClose,
  onReplayAfter,
}: {
  event: TeleFlowEvent;
  sessionName: string | undefined;
  onClose: () => void;
  onReplayAfter: () => void;
}) {
  const json = JSON.stringify(event, null, 2);
  return (
    <Paper withBorder p="sm" className="tf-event-detail" data-testid="event-detail" data-event-id={event.id}>
      <Stack gap="xs">
        <Group justify="space-between" wrap="nowrap">
          <Title order={2} size="h4">
            {event.type} #{event.id}
          </Title>
          <Button size="xs" variant="subtle" onClick={onClose} aria-label="Close the event">
            Close
          </Button>
        </Group>
        <Text size="sm">
          {new Date(event.timestamp).toLocaleString()}
          {event.sessionId ? ` · ${sessionName ?? event.sessionId}` : ''}
        </Text>
        <Group gap="xs">
          <CopyTextButton value={json} label="Copy as JSON" data-testid="event-copy" />
          <Button size="xs" variant="default" onClick={onReplayAfter} data-testid="event-replay-after">
            Replay after this event
          </Button>
        </Group>
        <Code block className="tf-mono tf-event-json" data-testid="event-json">
          {json}
        </Code>
      </Stack>
    </Paper>
  );
}
