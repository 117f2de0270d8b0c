/**
 * How a session gets signed in: by a login code (and the 2FA password when the account has
 * one), by a QR code another signed-in app accepts (its token refreshed as it expires), or by
 * importing a StringSession; and how a signed-in session is exported again.
 */
import QRCode from 'qrcode';
import { Api, errors, password as passwordHelpers } from 'teleproto';
import { StringSession } from 'teleproto/sessions/index.js';
import { AppError } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { AccountClient } from '../../telegram/account.js';
import { userView } from '../../telegram/convert.js';
import { isSignedOutError, telegramErrorName, toAppErrorFromTelegram } from '../../telegram/errors.js';
import { PeerCache } from '../../telegram/peer-cache.js';
import type { UpdateState } from '../../telegram/update-tracker.js';
import type { Managed, QrState, SessionRegistry } from './session-registry.js';
import type { SessionRow } from './sessions.repository.js';
import type { SessionView } from './sessions.schema.js';

export type QrPayload = { url: string; dataUrl: string; expiresAt: string };

export class LoginFlows {
  constructor(private readonly r: SessionRegistry) {}

  // ---------------------------------------------------------------- login by code

  async create(input: { phone: string; name?: string }): Promise<SessionView> {
    const phone = input.phone.replace(/[^0-9]/g, '');
    const now = this.r.now();
    const id = newId('ses');
    const m = this.r.managed(id);
    m.peers = new PeerCache();
    await this.r.insertNew(id, input.name ?? null, phone, now);
    try {
      await this.r.withLock(m, async () => {
        const account = await this.r.openClient(m, '');
        const sent = await account.rawInvoke(
          new Api.auth.SendCode({
            phoneNumber: phone,
            apiId: this.r.deps.apiId,
            apiHash: this.r.deps.apiHash,
            settings: new Api.CodeSettings({}),
          }),
        );
        if (!(sent instanceof Api.auth.SentCode))
          throw new AppError('CONFLICT', 'This account is already signed in');
        m.phoneCodeHash = sent.phoneCodeHash;
        m.phone = phone;
        await this.r.deps.repo.update(id, {
          status: 'code_sent',
          phone_code_hash: sent.phoneCodeHash,
          ...this.r.sealed(account),
          updated_at: this.r.now(),
        });
      });
    } catch (err) {
      await this.r.discard(m);
      throw toAppErrorFromTelegram(err);
    }
    const view = await this.r.get(id);
    await this.r.publish('session.created', id, { session: view });
    return view;
  }

  async verifyCode(id: string, code: string): Promise<SessionView> {
    const row = await this.r.row(id);
    if (row.status !== 'code_sent') throw this.r.wrongStep(row, 'code_sent');
    const m = this.r.managed(id);
    await this.r.withLock(m, async () => {
      const account = await this.loginClient(m, row);
      const phoneNumber = row.phone ?? '';
      const phoneCodeHash = row.phone_code_hash ?? '';
      try {
        let auth = await account.rawInvoke(
          new Api.auth.SignIn({ phoneNumber, phoneCodeHash, phoneCode: code }),
        );
        if (auth instanceof Api.auth.AuthorizationSignUpRequired) {
          auth = await account.rawInvoke(
            new Api.auth.SignUp({
              phoneNumber,
              phoneCodeHash,
              firstName: row.name ?? 'TeleFlow',
              lastName: '',
            }),
          );
        }
        await this.authorized(m, account, auth);
      } catch (err) {
        if (err instanceof errors.RPCError && err.errorMessage === 'SESSION_PASSWORD_NEEDED') {
          await this.r.setStatus(id, 'password_required', { lastError: null });
          return;
        }
        const mapped = toAppErrorFromTelegram(err);
        await this.r.setStatus(id, 'code_sent', {
          lastError: { code: mapped.code, message: mapped.message },
        });
        throw mapped;
      }
    });
    return this.r.get(id);
  }

  async verifyPassword(id: string, password: string): Promise<SessionView> {
    const row = await this.r.row(id);
    if (row.status !== 'password_required') throw this.r.wrongStep(row, 'password_required');
    const m = this.r.managed(id);
    await this.r.withLock(m, async () => {
      const account = await this.loginClient(m, row);
      try {
        const pwd = await account.rawInvoke(new Api.account.GetPassword());
        const check = await passwordHelpers.computeCheck(pwd, password);
        const auth = await account.rawInvoke(new Api.auth.CheckPassword({ password: check }));
        await this.authorized(m, account, auth);
      } catch (err) {
        const mapped = toAppErrorFromTelegram(err);
        await this.r.setStatus(id, 'password_required', {
          lastError: { code: mapped.code, message: mapped.message },
        });
        throw mapped;
      }
    });
    return this.r.get(id);
  }

  // ---------------------------------------------------------------- QR login

  async startQrLogin(input: { name?: string }): Promise<{ session: SessionView; qr: QrPayload }> {
    const now = this.r.now();
    const id = newId('ses');
    const m = this.r.managed(id);
    m.peers = new PeerCache();
    await this.r.insertNew(id, input.name ?? null, null, now);
    try {
      await this.r.withLock(m, async () => {
        const account = await this.r.openClient(m, '');
        await this.r.deps.repo.update(id, { ...this.r.sealed(account), updated_at: this.r.now() });
        m.qr = {
          token: Buffer.alloc(0),
          expiresAt: new Date(),
          deadline: Date.now() + this.r.o.qrLoginTtlMs,
        };
        await this.exportLoginToken(m, account);
      });
    } catch (err) {
      await this.r.discard(m);
      throw toAppErrorFromTelegram(err);
    }
    const session = await this.r.get(id);
    if (!m.qr || session.status !== 'qr_pending')
      return { session, qr: { url: '', dataUrl: '', expiresAt: now } };
    await this.r.publish('session.created', id, { session });
    return { session, qr: await this.qrPayload(m.qr) };
  }

  /** The current QR of a pending QR login (the token is refreshed as it expires). */
  async currentQr(id: string): Promise<QrPayload> {
    const row = await this.r.row(id);
    const qr = this.r.sessions.get(id)?.qr;
    if (row.status !== 'qr_pending' || !qr || qr.token.length === 0)
      throw new AppError('CONFLICT', `No QR login is pending for this session (status ${row.status})`);
    return this.qrPayload(qr);
  }

  private async qrPayload(qr: QrState): Promise<QrPayload> {
    const url = `tg://login?token=${qr.token.toString('base64url')}`;
    const dataUrl = await QRCode.toDataURL(url, { errorCorrectionLevel: 'M', margin: 2 });
    return { url, dataUrl, expiresAt: qr.expiresAt.toISOString() };
  }

  /**
   * Updates of a session waiting for its QR to be accepted: true when they say it was (the
   * login is then completed), false when they are ordinary updates.
   */
  takeLoginToken(m: Managed, account: AccountClient, updates: Api.TypeUpdates): boolean {
    if (!m.qr || !containsLoginToken(updates)) return false;
    void this.r
      .withLock(m, () => this.exportLoginToken(m, account))
      .catch((err: unknown) => this.r.deps.log.warn({ err, sessionId: m.id }, 'QR login completion failed'));
    return true;
  }

  /** Asks for a (new) login token; a success answer means another client accepted it. */
  private async exportLoginToken(m: Managed, account: AccountClient): Promise<void> {
    const qr = m.qr;
    if (!qr) return;
    clearTimeout(qr.refreshTimer);
    let res: Api.auth.TypeLoginToken;
    try {
      res = await account.rawInvoke(
        new Api.auth.ExportLoginToken({
          apiId: this.r.deps.apiId,
          apiHash: this.r.deps.apiHash,
          exceptIds: [],
        }),
      );
      if (res instanceof Api.auth.LoginTokenMigrateTo) {
        // Accepted by an account of another DC: the token is imported there, after moving the
        // session (a new auth key on that DC; https://core.telegram.org/api/qr-login).
        await account.switchDc(res.dcId);
        res = await account.rawInvoke(new Api.auth.ImportLoginToken({ token: res.token }));
      }
    } catch (err) {
      if (err instanceof errors.RPCError && err.errorMessage === 'SESSION_PASSWORD_NEEDED') {
        m.qr = undefined;
        await this.r.setStatus(m.id, 'password_required', { lastError: null });
        return;
      }
      throw err;
    }
    if (res instanceof Api.auth.LoginTokenSuccess) {
      m.qr = undefined;
      await this.authorized(m, account, res.authorization);
      return;
    }
    if (!(res instanceof Api.auth.LoginToken))
      throw new AppError('TELEGRAM_ERROR', 'Unexpected login token answer');
    qr.token = Buffer.from(res.token);
    qr.expiresAt = new Date(res.expires * 1000);
    await this.r.setStatus(m.id, 'qr_pending', { lastError: null });
    const refreshIn = Math.max(1000, res.expires * 1000 - Date.now());
    qr.refreshTimer = setTimeout(() => void this.refreshQr(m), refreshIn);
    qr.refreshTimer.unref();
  }

  private async refreshQr(m: Managed): Promise<void> {
    if (!m.qr || this.r.closing) return;
    if (Date.now() > m.qr.deadline) {
      m.qr = undefined;
      await this.r.withLock(m, () => this.r.dropClient(m));
      await this.r.setStatus(m.id, 'failed', {
        lastError: { code: 'QR_LOGIN_EXPIRED', message: 'Nobody accepted the QR login in time' },
      });
      return;
    }
    await this.r
      .withLock(m, async () => {
        if (m.account) await this.exportLoginToken(m, m.account);
      })
      .catch((err: unknown) => this.r.deps.log.warn({ err, sessionId: m.id }, 'QR token refresh failed'));
  }

  // ---------------------------------------------------------------- import / export

  async importSession(input: { sessionString: string; name?: string }): Promise<SessionView> {
    const key = authKeyOf(input.sessionString);
    if (!key) {
      throw new AppError('VALIDATION_ERROR', 'Not a GramJS StringSession', [
        { field: 'body.sessionString', message: 'not a valid StringSession with an auth key' },
      ]);
    }
    // Two clients on one auth key would fight (AUTH_KEY_DUPLICATED on Telegram): one session per key.
    for (const other of await this.r.deps.repo.list(null)) {
      if (!other.session_secret || other.status === 'logged_out') continue;
      let otherKey: Buffer | undefined;
      try {
        otherKey = authKeyOf(this.r.deps.box.decrypt(other.session_secret));
      } catch {
        continue;
      }
      if (otherKey?.equals(key)) {
        throw new AppError('CONFLICT', `This Telegram session is already here as ${other.id}`, {
          sessionId: other.id,
        });
      }
    }
    const now = this.r.now();
    const id = newId('ses');
    const m = this.r.managed(id);
    m.peers = new PeerCache();
    await this.r.insertNew(id, input.name ?? null, null, now, {
      session_secret: this.r.deps.box.encrypt(input.sessionString),
      key_version: this.r.deps.box.version,
    });
    try {
      await this.r.withLock(m, async () => {
        const account = await this.r.openClient(m, input.sessionString);
        let me: Api.User;
        try {
          me = await account.fetchSelf();
        } catch (err) {
          if (isSignedOutError(err))
            throw new AppError('SESSION_NOT_AUTHORIZED', 'This session string is not signed in', {
              telegramError: telegramErrorName(err),
            });
          throw err;
        }
        await this.r.deps.repo.update(id, { phone: me.phone ?? null, updated_at: this.r.now() });
        await this.authorized(m, account, new Api.auth.Authorization({ user: me }));
      });
    } catch (err) {
      await this.r.discard(m);
      throw toAppErrorFromTelegram(err);
    }
    return this.r.get(id);
  }

  async exportSession(id: string): Promise<{ sessionString: string }> {
    const row = await this.r.row(id);
    const m = this.r.sessions.get(id);
    const live = m?.account?.self ? m.account.sessionString() : '';
    const sessionString = live || (row.session_secret ? this.r.deps.box.decrypt(row.session_secret) : '');
    if (!sessionString || !row.user_json)
      throw new AppError('SESSION_NOT_AUTHORIZED', 'The session is not signed in: nothing to export');
    return { sessionString };
  }

  // ---------------------------------------------------------------- internals

  /** A login step after a restart: the client is rebuilt from the stored (unauthorized) key. */
  private async loginClient(m: Managed, row: SessionRow): Promise<AccountClient> {
    if (m.account) return m.account;
    if (!row.session_secret) throw new AppError('CONFLICT', 'The login was interrupted; start a new one');
    m.peers ??= new PeerCache();
    return this.r.openClient(m, this.r.deps.box.decrypt(row.session_secret));
  }

  /** Sign-in finished: the account is connected, its state known, and it comes back after restarts. */
  private async authorized(
    m: Managed,
    account: AccountClient,
    auth: Api.auth.TypeAuthorization,
  ): Promise<void> {
    if (!(auth instanceof Api.auth.Authorization) || !(auth.user instanceof Api.User)) {
      throw new AppError('TELEGRAM_ERROR', 'Telegram did not return the signed-in user');
    }
    account.setSelf(auth.user);
    m.status = 'connected';
    const state: UpdateState = { channels: {} };
    this.r.attachTracker(m, account, state);
    await account.tracker!.initIfEmpty();
    const user = userView(auth.user);
    await this.r.deps.repo.update(m.id, {
      status: 'connected',
      user_json: JSON.stringify(user),
      phone: user.phone ?? m.phone ?? null,
      phone_code_hash: null,
      auto_connect: 1,
      last_error_json: null,
      update_state_json: JSON.stringify(state),
      ...this.r.sealed(account),
      updated_at: this.r.now(),
    });
    m.attempts = 0;
    await this.r.flush(m);
    const view = await this.r.get(m.id);
    await this.r.publish('session.authorized', m.id, { session: view });
    await this.r.publish('session.connected', m.id, { session: view });
  }
}

function containsLoginToken(updates: Api.TypeUpdates): boolean {
  if (updates instanceof Api.UpdateShort) return updates.update instanceof Api.UpdateLoginToken;
  if (updates instanceof Api.Updates || updates instanceof Api.UpdatesCombined)
    return updates.updates.some((u) => u instanceof Api.UpdateLoginToken);
  return false;
}

/** The auth key inside a StringSession, or undefined when the string is not one. */
function authKeyOf(sessionString: string): Buffer | undefined {
  try {
    const key = (new StringSession(sessionString) as unknown as { _key?: Buffer })._key;
    return key && key.length > 0 ? Buffer.from(key) : undefined;
  } catch {
    return undefined;
  }
}
