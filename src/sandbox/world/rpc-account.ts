/** help.*, auth.*, account.*, users.*, contacts.* and updates.* handlers. */
import { Api } from 'teleproto';
import { RpcError } from '../contract.js';
import type { Handler, HandlerTable } from './rpc.js';
import { resolveChannel, resolveUser } from './rpc-peers.js';
import { long, now, num, toBigint } from './tl.js';

/**
 * help.getConfig's answer: the five DCs' addresses (https://core.telegram.org/api/datacenter)
 * and the DC asked (`this_dc`). A malformed Config hangs the client.
 */
export function sandboxConfig(
  host: string,
  port: number,
  dcs: { id: number; host: string; port: number }[] = [],
  thisDc = 2,
): Api.Config {
  const date = now();
  const addresses = dcs.length > 0 ? dcs : [1, 2, 3, 4, 5].map((id) => ({ id, host, port }));
  return new Api.Config({
    date,
    expires: date + 3600,
    testMode: false,
    thisDc,
    dcOptions: addresses.map(
      (dc) => new Api.DcOption({ id: dc.id, ipAddress: dc.host, port: dc.port, static: false }),
    ),
    dcTxtDomainName: 'sandbox.teleflow.invalid',
    chatSizeMax: 200,
    megagroupSizeMax: 200000,
    forwardedCountMax: 100,
    onlineUpdatePeriodMs: 210000,
    offlineBlurTimeoutMs: 5000,
    offlineIdleTimeoutMs: 30000,
    onlineCloudTimeoutMs: 300000,
    notifyCloudDelayMs: 30000,
    notifyDefaultDelayMs: 1500,
    pushChatPeriodMs: 60000,
    pushChatLimit: 2,
    editTimeLimit: 172800,
    revokeTimeLimit: 2147483647,
    revokePmTimeLimit: 2147483647,
    ratingEDecay: 2419200,
    stickersRecentLimit: 200,
    channelsReadMediaPeriod: 604800,
    callReceiveTimeoutMs: 20000,
    callRingTimeoutMs: 90000,
    callConnectTimeoutMs: 30000,
    callPacketTimeoutMs: 10000,
    meUrlPrefix: 'https://t.me/',
    captionLengthMax: 1024,
    messageLengthMax: 4096,
    webfileDcId: 4,
  });
}

const getConfig: Handler = ({ world, ctx }) =>
  sandboxConfig(world.options.host, world.options.port, world.options.dcs, ctx.dcId ?? 2);

export const accountHandlers: HandlerTable = {
  anonymous: {
    'help.GetConfig': getConfig,
    'help.GetNearestDc': ({ ctx }) =>
      new Api.NearestDc({ country: 'ZZ', thisDc: ctx.dcId ?? 2, nearestDc: ctx.dcId ?? 2 }),
    'auth.SendCode': ({ world }, req: Api.auth.SendCode) => {
      const sent = world.sendCode(req.phoneNumber);
      return new Api.auth.SentCode({
        type: sent.registered
          ? new Api.auth.SentCodeTypeApp({ length: 5 })
          : new Api.auth.SentCodeTypeSms({ length: 5 }),
        phoneCodeHash: sent.hash,
        timeout: 60,
      });
    },
    'auth.ResendCode': ({ world }, req: Api.auth.ResendCode) => {
      const sent = world.sendCode(req.phoneNumber);
      return new Api.auth.SentCode({
        type: new Api.auth.SentCodeTypeSms({ length: 5 }),
        phoneCodeHash: sent.hash,
        timeout: 60,
      });
    },
    'auth.SignIn': ({ world, ctx }, req: Api.auth.SignIn) =>
      world.signIn(ctx.authKeyId, req.phoneNumber, req.phoneCodeHash, req.phoneCode ?? undefined),
    'auth.SignUp': ({ world, ctx }, req: Api.auth.SignUp) =>
      world.signUp(ctx.authKeyId, req.phoneNumber, req.phoneCodeHash, req.firstName, req.lastName ?? ''),
    'account.GetPassword': ({ world, ctx }) => world.getPassword(ctx.authKeyId),
    'auth.CheckPassword': ({ world, ctx }, req: Api.auth.CheckPassword) => {
      const input = req.password;
      if (!(input instanceof Api.InputCheckPasswordSRP)) throw new RpcError(400, 'PASSWORD_HASH_INVALID');
      return world.checkPassword(
        ctx.authKeyId,
        toBigint(input.srpId),
        Buffer.from(input.A),
        Buffer.from(input.M1),
      );
    },
    'auth.ExportLoginToken': ({ world, ctx }) => world.exportLoginToken(ctx.authKeyId, ctx.dcId),
    'auth.ImportLoginToken': ({ world, ctx }, req: Api.auth.ImportLoginToken) =>
      world.importLoginToken(ctx.authKeyId, Buffer.from(req.token), ctx.dcId),
    'auth.ImportAuthorization': ({ world, ctx }, req: Api.auth.ImportAuthorization) =>
      world.importAuthorization(ctx.authKeyId, ctx.dcId, toBigint(req.id), Buffer.from(req.bytes)),
    'help.AcceptTermsOfService': () => true,
    'updates.GetState': ({ world, ctx }) => {
      const userId = world.userIdForKey(ctx.authKeyId);
      if (userId === undefined)
        throw new RpcError(401, world.keyRevoked(ctx.authKeyId) ? 'SESSION_REVOKED' : 'AUTH_KEY_UNREGISTERED');
      return world.getState(userId);
    },
  },
  authorized: {
    'auth.LogOut': ({ world, ctx }) => {
      world.revokeKey(ctx.authKeyId);
      return new Api.auth.LoggedOut({});
    },
    'auth.ExportAuthorization': ({ world, userId, ctx }, req: Api.auth.ExportAuthorization) =>
      world.exportAuthorization(userId, ctx.dcId, req.dcId),
    'auth.AcceptLoginToken': ({ world, userId }, req: Api.auth.AcceptLoginToken) =>
      world.acceptLoginToken(userId, Buffer.from(req.token)),
    'account.GetPrivacy': ({ world, userId }, req: Api.account.GetPrivacy) =>
      world.getPrivacy(userId, req.key),
    'account.SetPrivacy': ({ world, userId, ctx }, req: Api.account.SetPrivacy) =>
      world.setPrivacy(userId, req.key, req.rules, (user) => resolveUser(world, userId, user), ctx.authKeyId),
    'account.UpdateStatus': ({ world, userId }, req: Api.account.UpdateStatus) => {
      world.setOnline(userId, !req.offline);
      return true;
    },
    'account.UpdateProfile': ({ world, userId }, req: Api.account.UpdateProfile) => {
      world.updateProfile(userId, {
        // Absent flag fields arrive as null from the TL reader.
        ...(req.firstName != null ? { firstName: req.firstName } : {}),
        ...(req.lastName != null ? { lastName: req.lastName } : {}),
      });
      return world.apiUser(userId, userId);
    },
    'account.UpdateUsername': ({ world, userId }, req: Api.account.UpdateUsername) => {
      world.updateProfile(userId, { username: req.username || null });
      return world.apiUser(userId, userId);
    },
    'account.GetAuthorizations': ({ world, userId, ctx }) =>
      new Api.account.Authorizations({
        authorizationTtlDays: 180,
        authorizations: world.authorizationsOf(userId, ctx.authKeyId),
      }),
    'account.ResetAuthorization': ({ world, userId }, req: Api.account.ResetAuthorization) =>
      world.resetAuthorization(userId, String(req.hash)),
    'auth.ResetAuthorizations': ({ world, userId, ctx }) => {
      for (const key of world.keysOf(userId)) if (key !== ctx.authKeyId) world.terminateKey(key);
      return true;
    },
    'account.CheckUsername': ({ world }, req: Api.account.CheckUsername) =>
      !world.userByUsername(req.username) && !world.channelByUsername(req.username),
    'users.GetUsers': ({ world, userId }, req: Api.users.GetUsers) =>
      req.id.map((input) => {
        try {
          return world.apiUser(userId, resolveUser(world, userId, input));
        } catch {
          return new Api.UserEmpty({ id: long(num((input as { userId?: unknown }).userId)) });
        }
      }),
    'users.GetFullUser': ({ world, userId }, req: Api.users.GetFullUser) => {
      const target = resolveUser(world, userId, req.id);
      const common = Object.values(world.state.chats).filter(
        (chat) =>
          chat.participants.some((p) => p.userId === target) &&
          chat.participants.some((p) => p.userId === userId),
      ).length;
      return new Api.users.UserFull({
        fullUser: new Api.UserFull({
          id: long(target),
          settings: new Api.PeerSettings({}),
          notifySettings: new Api.PeerNotifySettings({}),
          commonChatsCount: target === userId ? 0 : common,
        }),
        chats: [],
        users: [world.apiUser(userId, target)],
      });
    },
    'contacts.ResolveUsername': ({ world, userId }, req: Api.contacts.ResolveUsername) => {
      const user = world.userByUsername(req.username);
      if (user) {
        return new Api.contacts.ResolvedPeer({
          peer: new Api.PeerUser({ userId: long(user.id) }),
          users: [world.apiUser(userId, user.id)],
          chats: [],
        });
      }
      const channel = world.channelByUsername(req.username);
      if (channel) {
        return new Api.contacts.ResolvedPeer({
          peer: new Api.PeerChannel({ channelId: long(channel.id) }),
          users: [],
          chats: [world.apiChannel(userId, channel.id)],
        });
      }
      throw new RpcError(400, 'USERNAME_NOT_OCCUPIED');
    },
    'contacts.GetContacts': ({ world, userId }) => {
      const me = world.user(userId);
      return new Api.contacts.Contacts({
        contacts: me.contacts.map(
          (id) =>
            new Api.Contact({
              userId: long(id),
              mutual: world.findUser(id)?.contacts.includes(userId) ?? false,
            }),
        ),
        savedCount: 0,
        users: me.contacts.map((id) => world.apiUser(userId, id)),
      });
    },
    'contacts.ImportContacts': ({ world, userId }, req: Api.contacts.ImportContacts) => {
      const imported: Api.ImportedContact[] = [];
      const users: Api.TypeUser[] = [];
      for (const contact of req.contacts) {
        if (!(contact instanceof Api.InputPhoneContact)) continue;
        const found = world.userByPhone(contact.phone);
        if (!found) continue;
        world.addContact(userId, found.id);
        imported.push(new Api.ImportedContact({ userId: long(found.id), clientId: contact.clientId }));
        users.push(world.apiUser(userId, found.id));
      }
      return new Api.contacts.ImportedContacts({ imported, popularInvites: [], retryContacts: [], users });
    },
    'updates.GetDifference': ({ world, userId }, req: Api.updates.GetDifference) =>
      world.getDifference(userId, req.pts, req.date, req.ptsTotalLimit),
    'updates.GetChannelDifference': ({ world, userId }, req: Api.updates.GetChannelDifference) =>
      world.getChannelDifference(userId, resolveChannel(world, userId, req.channel), req.pts, req.limit),
  },
};
