import type { Me, Role } from '../api/client';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/**
 * What the signed-in key may do, as the server enforces it (docs/API.md "Auth"): the dashboard
 * offers only these actions. viewer: reads and event streams; operator: sessions, messages,
 * chats; admin: everything, incl. keys, webhooks, session export and the sandbox. A key limited
 * to some sessions cannot add accounts.
 */
export interface Permissions {
  role: Role;
  /** Session ids the key is limited to; null for all. */
  sessionIds: string[] | null;
  /** Send, edit, delete, react, mark read; connect and disconnect sessions. */
  write: boolean;
  /** Add accounts (phone, QR, import). */
  addSessions: boolean;
  /** Delete sessions (logs the account out of Telegram). */
  deleteSessions: boolean;
  exportSessions: boolean;
  manageKeys: boolean;
  manageWebhooks: boolean;
  sandbox: boolean;
}

export function permissionsOf(me: Pick<Me, 'role' | 'apiKey'>): Permissions {
  const rank = RANK[me.role];
  const sessionIds = me.apiKey.sessionIds;
  const operator = rank >= RANK.operator;
  const admin = rank >= RANK.admin;
  return {
    role: me.role,
    sessionIds,
    write: operator,
    addSessions: operator && sessionIds === null,
    deleteSessions: operator,
    exportSessions: admin,
    manageKeys: admin,
    manageWebhooks: admin,
    sandbox: admin,
  };
}
