import { MultiSelect } from '@mantine/core';
import { sessionLabel } from '../api/sessions';
import type { Session } from '../api/client';

/** Picks sessions by name; an empty choice means "all sessions" where the caller says so. */
export function SessionPicker({
  sessions,
  value,
  onChange,
  label,
  description,
  testId,
}: {
  sessions: Session[];
  value: string[];
  onChange: (ids: string[]) => void;
  label: string;
  description?: string;
  testId: string;
}) {
  return (
    <MultiSelect
      label={label}
      description={description}
      data={sessions.map((s) => ({ value: s.id, label: `${sessionLabel(s)} (${s.id})` }))}
      value={value}
      onChange={onChange}
      searchable
      clearable
      nothingFoundMessage="No such session"
      data-testid={testId}
      comboboxProps={{ withinPortal: true }}
    />
  );
}
