/** How the control API names users (by phone) and chats (Bot-API ids, @usernames, "me"). */
import type { World } from '../../world/world.js';
import type { PeerKey } from '../../world/state.js';
import { parsePeerKey, peerKey } from '../../world/tl.js';
import { ControlError } from './route.js';

export function lookupsFor(world: World) {
  const userOf = (value: string) => {
    const user = world.userByPhone(value);
    if (!user) throw new ControlError(404, 'USER_NOT_FOUND', `No user with phone ${value}`);
    return user;
  };

  /** A chat as API.md names it (phone, @username, Bot-API id, "me"), seen by `viewerId`. */
  const resolveTarget = (viewerId: number, value: string | number): PeerKey => {
    const text = String(value).trim();
    if (text === 'me' || text === 'self') return peerKey('u', viewerId);
    if (text.startsWith('@') || /^[a-zA-Z]/.test(text)) {
      const name = text.replace(/^@/, '');
      const user = world.userByUsername(name);
      if (user) return peerKey('u', user.id);
      const channel = world.channelByUsername(name);
      if (channel) return peerKey('h', channel.id);
      throw new ControlError(404, 'CHAT_NOT_FOUND', `No user or channel @${name}`);
    }
    if (/^-100\d+$/.test(text) && world.state.channels[text.slice(4)])
      return peerKey('h', Number(text.slice(4)));
    if (/^-\d+$/.test(text) && world.state.chats[text.slice(1)]) return peerKey('c', Number(text.slice(1)));
    if (/^\+?\d+$/.test(text)) {
      const byPhone = world.userByPhone(text);
      if (byPhone) return peerKey('u', byPhone.id);
      if (world.findUser(Number(text))) return peerKey('u', Number(text));
    }
    throw new ControlError(404, 'CHAT_NOT_FOUND', `No chat ${text}`);
  };

  const chatOf = (id: string): PeerKey => {
    const key = /^-100\d+$/.test(id)
      ? peerKey('h', Number(id.slice(4)))
      : /^-\d+$/.test(id)
        ? peerKey('c', Number(id.slice(1)))
        : undefined;
    if (!key)
      throw new ControlError(
        400,
        'BAD_CHAT_ID',
        'Chat ids are -<id> (group) or -100<id> (channel/supergroup)',
      );
    const { kind, id: numeric } = parsePeerKey(key);
    if ((kind === 'c' && !world.state.chats[numeric]) || (kind === 'h' && !world.state.channels[numeric])) {
      throw new ControlError(404, 'CHAT_NOT_FOUND', `No chat ${id}`);
    }
    return key;
  };

  const ownerOf = (key: PeerKey): number => {
    const { kind, id } = parsePeerKey(key);
    return kind === 'c' ? world.chat(id).creatorId : world.channel(id).creatorId;
  };

  return { userOf, resolveTarget, chatOf, ownerOf };
}
