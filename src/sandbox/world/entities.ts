/**
 * Collecting the users and chats an answer mentions.
 */
import { Api } from 'teleproto';
import type { ChannelMessage, MessageCopy, PeerKey, PostRecord } from './state.js';
import { decodeTl, parsePeerKey } from './tl.js';
import type { WorldContext } from './context.js';
import { findUser } from './lookups.js';
import { apiChannel, apiChat, apiUser } from './views.js';

/** Users and chats an answer mentions, rendered for one viewer. */
export function collectEntities(ctx: WorldContext, viewerId: number): EntityCollector {
  return new EntityCollector(ctx, viewerId);
}

/** Collects the users and chats an answer refers to, rendered for one viewer. */
export class EntityCollector {
  private readonly users = new Set<number>();
  private readonly chats = new Set<number>();
  private readonly channels = new Set<number>();

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

  addChannelMessage(msg: ChannelMessage | undefined): this {
    if (msg) this.addPost(msg.fromId, msg.fwdFrom, msg.action);
    return this;
  }

  private addPost(fromId: number | undefined, fwd: PostRecord['fwdFrom'], action: string | undefined): void {
    this.addUser(fromId);
    if (fwd?.fromUserId) this.addUser(fwd.fromUserId);
    if (fwd?.fromChannelId) this.addChannel(fwd.fromChannelId);
    if (action) {
      const decoded = decodeTl<{ users?: unknown[]; userId?: unknown; inviterId?: unknown }>(action);
      for (const id of decoded.users ?? []) this.addUser(Number(String(id)));
      if (decoded.userId !== undefined) this.addUser(Number(String(decoded.userId)));
      if (decoded.inviterId !== undefined) this.addUser(Number(String(decoded.inviterId)));
    }
  }

  build(): { users: Api.TypeUser[]; chats: Api.TypeChat[] } {
    const chats: Api.TypeChat[] = [];
    for (const id of this.chats)
      if (this.ctx.state.chats[id]) chats.push(apiChat(this.ctx, this.viewerId, id));
    for (const id of this.channels)
      if (this.ctx.state.channels[id]) chats.push(apiChannel(this.ctx, this.viewerId, id));
    return { users: [...this.users].map((id) => apiUser(this.ctx, this.viewerId, id)), chats };
  }
}
