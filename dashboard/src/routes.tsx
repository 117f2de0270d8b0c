import { lazy, type ComponentType } from 'react';
import type { Permissions } from './auth/permissions';
import { OverviewPage } from './pages/overview/OverviewPage';

export interface PageRoute {
  /** The hash path: `#/sessions`. */
  path: string;
  label: string;
  page: ComponentType;
  /** Whether the signed-in key may use the page (not offered otherwise). */
  visible(can: Permissions, sandboxRunning: boolean): boolean;
}

const always = () => true;

// Pages other than the overview load when first opened, keeping the first load small.
const SessionsPage = lazy(() =>
  import('./pages/sessions/SessionsPage').then((m) => ({ default: m.SessionsPage })),
);
const ChatsPage = lazy(() => import('./pages/chats/ChatsPage').then((m) => ({ default: m.ChatsPage })));
const EventsPage = lazy(() => import('./pages/events/EventsPage').then((m) => ({ default: m.EventsPage })));
const WebhooksPage = lazy(() =>
  import('./pages/webhooks/WebhooksPage').then((m) => ({ default: m.WebhooksPage })),
);
const ApiKeysPage = lazy(() => import('./pages/keys/ApiKeysPage').then((m) => ({ default: m.ApiKeysPage })));
const SandboxPage = lazy(() =>
  import('./pages/sandbox/SandboxPage').then((m) => ({ default: m.SandboxPage })),
);

/** The dashboard's pages, in menu order. */
export const ROUTES: PageRoute[] = [
  { path: '/', label: 'Overview', page: OverviewPage, visible: always },
  { path: '/sessions', label: 'Sessions', page: SessionsPage, visible: always },
  { path: '/chats', label: 'Chats', page: ChatsPage, visible: always },
  { path: '/events', label: 'Events', page: EventsPage, visible: always },
  { path: '/webhooks', label: 'Webhooks', page: WebhooksPage, visible: (can) => can.manageWebhooks },
  { path: '/keys', label: 'API keys', page: ApiKeysPage, visible: (can) => can.manageKeys },
  {
    path: '/sandbox',
    label: 'Sandbox',
    page: SandboxPage,
    visible: (can, running) => can.sandbox && running,
  },
];
