/**
 * Collecting the users and chats an answer mentions.
 */
import { Api } from 'teleproto';
import type { ChannelMessage, MessageCopy, PeerKey, PostRecord } from './state.js';
import { decodeTl, parsePeerKey, peerKey } from './tl.js';
import type { WorldContext } from './context.js';
import { findUser } from './lookups.js';
import { apiChannel, apiChat, apiUser } from './views.js';

/**
 * Whether the viewer has a relation to a user that gives it the user's full object: itself, a
 * contact, or a private chat. Anyone else met only as the author of a supergroup message comes
 * as a `min` user, whose access hash cannot be used: the client must address them by the
 * message it saw them in (inputPeerUserFromMessage), as on Telegram
 * (https://core.telegram.org/api/min).
 */
function knowsUser(ctx: WorldContext, viewerId: number, userId: number): boolean {
  if (viewerId === userId) return true;
  if (findUser(ctx, viewerId)?.contacts.includes(userId)) return true;
  return ctx.state.boxes[viewerId]?.dialogs[peerKey('u', userId)] !== undefined;
}

/**
 * Whether the viewer has a relation to a channel that gives it the channel's full object: it is
 * (or was) a participant. A channel met only as the origin of a forwarded message comes as a
 * `min` channel, addressed by the message (inputPeerChannelFromMessage), as on Telegram
 * (https://core.telegram.org/api/min).
 */
function knowsChannel(ctx: WorldContext, viewerId: number, channelId: number): boolean {
  const channel = ctx.state.channels[channelId];
  return channel?.creatorId === viewerId || channel?.participants[viewerId] !== undefined;
}

/** Users and chats an answer mentions, rendered for one viewer. */
export function collectEntities(ctx: WorldContext, viewerId: number): EntityCollector {
  return new EntityCollector(ctx, viewerId);
}

/** Collects the users and chats an answer refers to, rendered for one viewer. */
export class EntityCollector {
  private readonly users = new Set<number>();
  /** Users met only as the author of a supergroup message: `min` unless the viewer knows them. */
  private readonly authors = new Set<number>();
  private readonly chats = new Set<number>();
  private readonly channels = new Set<number>();
  /** Channels met only as the origin of a forwarded message: `min` unless the viewer knows them. */
  private readonly origins = new Set<number>();

  constructor(
    private readonly ctx: WorldContext,
    private readonly viewerId: number,
  ) {}

  addUser(id: number | undefined): this {
    if (id !== undefined && findUser(this.ctx, id)) this.users.add(id);
    return this;
  }

  addChat(id: number): this {
    this.chats.add(id);
    return this;
  }

  addChannel(id: number): this {
    this.channels.add(id);
    return this;
  }

  addPeer(key: PeerKey): this {
    const { kind, id } = parsePeerKey(key);
    if (kind === 'u') return this.addUser(id);
    if (kind === 'c') return this.addChat(id);
    return this.addChannel(id);
  }

  addMessageCopy(copy: MessageCopy | undefined): this {
    if (!copy) return this;
    this.addPeer(copy.peer);
    const post = this.ctx.state.posts[copy.postId];
    if (post) this.addPost(post.fromId, post.fwdFrom, post.action);
    return this;
  }

  /** A channel or supergroup message: the users it names may come as `min` (see knowsUser). */
  addChannelMessage(msg: ChannelMessage | undefined): this {
    if (!msg) return this;
    this.addPost(msg.fromId, msg.fwdFrom, msg.action, (id) => {
      if (id !== undefined && findUser(this.ctx, id)) this.authors.add(id);
    });
    return this;
  }

  private addPost(
    fromId: number | undefined,
    fwd: PostRecord['fwdFrom'],
    action: string | undefined,
    addUser: (id: number | undefined) => void = (id) => this.addUser(id),
  ): void {
    addUser(fromId);
    if (fwd?.fromUserId) addUser(fwd.fromUserId);
    if (fwd?.fromChannelId) this.origins.add(fwd.fromChannelId);
    if (action) {
      const decoded = decodeTl<{ users?: unknown[]; userId?: unknown; inviterId?: unknown }>(action);
      for (const id of decoded.users ?? []) addUser(Number(String(id)));
      if (decoded.userId !== undefined) addUser(Number(String(decoded.userId)));
      if (decoded.inviterId !== undefined) addUser(Number(String(decoded.inviterId)));
    }
  }

  build(): { users: Api.TypeUser[]; chats: Api.TypeChat[] } {
    const chats: Api.TypeChat[] = [];
    for (const id of this.chats)
      if (this.ctx.state.chats[id]) chats.push(apiChat(this.ctx, this.viewerId, id));
    for (const id of this.channels)
      if (this.ctx.state.channels[id]) chats.push(apiChannel(this.ctx, this.viewerId, id));
    for (const id of this.origins) {
      if (this.channels.has(id) || !this.ctx.state.channels[id]) continue;
      const min = !knowsChannel(this.ctx, this.viewerId, id);
      chats.push(apiChannel(this.ctx, this.viewerId, id, { min }));
    }
    const users = [...this.users].map((id) => apiUser(this.ctx, this.viewerId, id));
    for (const id of this.authors) {
      if (this.users.has(id)) continue;
      const min = !knowsUser(this.ctx, this.viewerId, id);
      users.push(apiUser(this.ctx, this.viewerId, id, { min }));
    }
    return { users, chats };
  }
}
