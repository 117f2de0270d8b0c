import { Stack, Text, Title } from '@mantine/core';

/** A page that is not built yet. */
export function ComingSoon({ title }: { title: string }) {
  return (
    <Stack>
      <Title order={1}>{title}</Title>
      <Text c="dimmed">Coming soon.</Text>
    </Stack>
  );
}
