import type { ComponentType } from 'react';
import type { Permissions } from './auth/permissions';
import { ApiKeysPage } from './pages/keys/ApiKeysPage';
import { ChatsPage } from './pages/chats/ChatsPage';
import { EventsPage } from './pages/events/EventsPage';
import { OverviewPage } from './pages/overview/OverviewPage';
import { SandboxPage } from './pages/sandbox/SandboxPage';
import { SessionsPage } from './pages/sessions/SessionsPage';
import { WebhooksPage } from './pages/webhooks/WebhooksPage';

export interface PageRoute {
  /** The hash path: `#/sessions`. */
  path: string;
  label: string;
  page: ComponentType;
  /** Whether the signed-in key may use the page (not offered otherwise). */
  visible(can: Permissions, sandboxRunning: boolean): boolean;
}

const always = () => true;

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
