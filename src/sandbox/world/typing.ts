/**
 * Typing notifications: pushed live to the other members, never logged.
 */
import { Api } from 'teleproto';
import type { PeerKey } from './state.js';
import { long, now, parsePeerKey } from './tl.js';
import type { WorldContext } from './context.js';
import { channelMembers, getChannel, getChat } from './lookups.js';
import { pushTo } from './updates.js';

export function setTyping(
  ctx: WorldContext,
  userId: number,
  peer: PeerKey,
  action: Api.TypeSendMessageAction = new Api.SendMessageTypingAction(),
): void {
  const { kind, id } = parsePeerKey(peer);
  const date = now();
  if (kind === 'u') {
    pushTo(
      ctx,
      id,
      new Api.UpdateShort({ update: new Api.UpdateUserTyping({ userId: long(userId), action }), date }),
    );
  } else if (kind === 'c') {
    const chat = getChat(ctx, id);
    for (const p of chat.participants) {
      if (p.userId === userId) continue;
      pushTo(
        ctx,
        p.userId,
        new Api.UpdateShort({
          update: new Api.UpdateChatUserTyping({
            chatId: long(id),
            fromId: new Api.PeerUser({ userId: long(userId) }),
            action,
          }),
          date,
        }),
      );
    }
  } else {
    const channel = getChannel(ctx, id);
    for (const member of channelMembers(channel)) {
      if (member === userId) continue;
      pushTo(
        ctx,
        member,
        new Api.UpdateShort({
          update: new Api.UpdateChannelUserTyping({
            channelId: long(id),
            fromId: new Api.PeerUser({ userId: long(userId) }),
            action,
          }),
          date,
        }),
      );
    }
  }
}
