import { AppShell, Badge, Burger, Button, Group, Loader, NavLink, Text, Title } from '@mantine/core';
import { useDisclosure, useMediaQuery } from '@mantine/hooks';
import { Suspense, useEffect, useRef } from 'react';
import { LiveEventsProvider, useStreamStatus, type StreamStatus } from '../api/events';
import { useSandboxInfo } from '../api/sandbox';
import { useAuth } from '../auth/AuthContext';
import { ROUTES } from '../routes';
import { href, useRoute } from '../router';
import { NotFoundPage } from './NotFoundPage';

/** The signed-in layout, with the tab's live event stream open for every page. */
export function Shell() {
  const { token, signOut } = useAuth();
  return (
    <LiveEventsProvider token={token} onUnauthorized={() => void signOut()}>
      <Layout />
    </LiveEventsProvider>
  );
}

const STREAM_LABELS: Record<StreamStatus, string> = {
  connecting: 'connecting',
  open: 'live',
  reconnecting: 'reconnecting',
  closed: 'offline',
};

function StreamIndicator() {
  const status = useStreamStatus();
  return (
    <Badge
      variant="dot"
      color={status === 'open' ? 'green' : 'gray'}
      visibleFrom="xs"
      title="Live event stream"
      data-testid="live-status"
      data-status={status}
    >
      {STREAM_LABELS[status]}
    </Badge>
  );
}

/** Header (key, sign-out), menu (a burger on small screens), the page. */
function Layout() {
  const { me, can, signOut } = useAuth();
  const route = useRoute();
  const [menuOpen, menu] = useDisclosure(false);
  // On small screens the closed menu only slides off-screen: keep its links out of the tab order.
  const smallScreen = useMediaQuery('(max-width: 47.99em)');
  const sandbox = useSandboxInfo(can.sandbox);
  const sandboxRunning = Boolean(sandbox.data);
  const visible = ROUTES.filter((r) => r.visible(can, sandboxRunning));
  // A page the key may not use is not found, like a page that does not exist (the Sandbox
  // page waits for the check before deciding).
  const current = visible.find((r) => r.path === route.path);
  const pending = !current && route.path === '/sandbox' && sandbox.loading;
  const Page = current?.page ?? (pending ? null : NotFoundPage);

  // After navigating: close the menu on phones and move focus to the page for screen readers.
  const main = useRef<HTMLElement>(null);
  const firstRender = useRef(true);
  useEffect(() => {
    menu.close();
    if (firstRender.current) firstRender.current = false;
    else main.current?.focus();
  }, [route.path]);
  const title = current?.label ?? (pending ? null : 'Not found');
  useEffect(() => {
    if (title) document.title = `${title} · TeleFlow`;
  }, [title]);

  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 220, breakpoint: 'sm', collapsed: { mobile: !menuOpen } }}
      padding="md"
    >
      <a
        href="#main"
        className="tf-skip-link"
        onClick={(event) => {
          // The hash is the router's: focus the page instead of following the link.
          event.preventDefault();
          main.current?.focus();
        }}
      >
        Skip to content
      </a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger
              opened={menuOpen}
              onClick={menu.toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label={menuOpen ? 'Close menu' : 'Open menu'}
              aria-expanded={menuOpen}
              aria-controls="tf-navbar"
              data-testid="menu-toggle"
            />
            <Title order={2} size="h4">
              TeleFlow
            </Title>
          </Group>
          <Group gap="sm" wrap="nowrap">
            <StreamIndicator />
            <Text size="sm" truncate maw={220} visibleFrom="sm" data-testid="signed-in-key">
              {me.apiKey.name} <span className="tf-mono">({me.apiKey.prefix}…)</span>
            </Text>
            <Badge variant="light" data-testid="signed-in-role">
              {me.role}
            </Badge>
            <Button variant="default" size="xs" onClick={() => void signOut()} data-testid="sign-out">
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar
        p="xs"
        id="tf-navbar"
        component="nav"
        aria-label="Main"
        inert={smallScreen && !menuOpen}
      >
        {visible.map((r) => (
          <NavLink
            key={r.path}
            component="a"
            href={href(r.path)}
            label={r.label}
            active={r.path === route.path}
            aria-current={r.path === route.path ? 'page' : undefined}
            data-testid={`nav-${r.path === '/' ? 'overview' : r.path.slice(1)}`}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main id="main" ref={main} tabIndex={-1}>
        <Suspense fallback={<Loader aria-label="Loading the page" />}>{Page && <Page />}</Suspense>
      </AppShell.Main>
    </AppShell>
  );
}
