import { Anchor, Stack, Text, Title } from '@mantine/core';
import { href } from '../router';

export function NotFoundPage() {
  return (
    <Stack>
      <Title order={1}>Not found</Title>
      <Text>
        This page does not exist or this key may not use it.{' '}
        <Anchor href={href('/')}>Go to the overview</Anchor>
      </Text>
    </Stack>
  );
}
