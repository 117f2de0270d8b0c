import { randomBytes } from 'node:crypto';
import type { EventType } from '../../lib/events.js';
import type { EventData, EventEnvelope } from '../events/events.schema.js';

type SampleData = { [T in EventType]: EventData<T> };

/**
 * Sample `data` for each event type, shaped as the real events are (the OpenAPI `<Type>Event`
 * schemas), so a receiver can parse a test delivery with the code it uses for real ones.
 */
function sampleData(at: string): SampleData {
  const user = { id: '5551234', firstName: 'Ann', lastName: null, username: 'ann', phone: null };
  const session = {
    id: 'ses_test',
    name: 'test',
    phone: '+15551234567',
    status: 'connected' as const,
    user,
    createdAt: at,
    updatedAt: at,
    lastError: null,
  };
  const message = {
    id: 1,
    chatId: '5551234',
    senderId: '5551234',
    date: at,
    text: 'TeleFlow test event',
    out: false,
    media: null,
  };
  const group = { id: '-4001', type: 'group' as const, title: 'Test group' };
  const channel = { id: '-1001234567890', type: 'channel' as const, title: 'Test channel' };
  const member = { chatId: group.id, userId: user.id, actorId: null };
  return {
    'session.created': { session: { ...session, status: 'code_sent', user: null } },
    'session.connected': { session },
    'session.disconnected': { session: { ...session, status: 'disconnected' }, reason: 'requested' },
    'session.authorized': { session },
    'session.deleted': { session: { ...session, status: 'logged_out' } },
    'message.received': { message },
    'message.sent': { message: { ...message, out: true } },
    'message.edited': { message: { ...message, editDate: at } },
    'message.deleted': { chatId: null, messageIds: [message.id] },
    'message.read': { chatId: message.chatId, maxId: message.id },
    'chat.created': { chat: { id: user.id, type: 'private', title: 'Ann' } },
    'chat.updated': { chat: { id: user.id, type: 'private', title: 'Ann' } },
    'chat.deleted': { chatId: user.id },
    'chat.member_joined': { ...member, chatId: channel.id },
    'chat.member_left': { ...member, chatId: channel.id },
    'group.created': { chat: group },
    'group.updated': { chat: group },
    'group.deleted': { chatId: group.id },
    'group.member_added': { ...member, user },
    'group.member_removed': member,
    'group.admin_changed': { ...member, isAdmin: true, rights: ['change_info'] },
    'channel.created': { chat: channel },
    'channel.updated': { chat: channel },
    'channel.deleted': { chatId: channel.id },
    'channel.post_published': { message: { ...message, chatId: channel.id, senderId: null }, chat: channel },
    'user.status_changed': { userId: user.id, status: 'online', lastSeenAt: at },
    'user.typing': { userId: user.id, chatId: user.id, action: 'typing' },
    'user.profile_updated': { userId: user.id, user: { id: user.id, username: 'ann' } },
  };
}

/**
 * The envelope of a test delivery: an event of a real type (sample data unless given), with an
 * id starting `test_` and no session, so it never collides with a logged event.
 */
export function testEventEnvelope(
  type: EventType,
  at: string,
  data?: Record<string, unknown>,
): EventEnvelope {
  return {
    id: `test_${randomBytes(9).toString('base64url')}`,
    type,
    sessionId: null,
    timestamp: at,
    data: data ?? sampleData(at)[type],
  };
}
