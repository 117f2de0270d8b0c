/**
 * API_KEY rotation across a cluster. The bootstrap key is not stored (it comes from API_KEY),
 * so each instance would accept its own until restarted. Instead the instances agree on one:
 * an instance starting with an API_KEY other than the one in force records its hash (and the
 * fingerprint its JWTs carry; never the key) in `cluster_state` and announces it; every other
 * instance then accepts that key and no longer its own, and tokens issued for the old key end,
 * within a second. The instance started last decides: rotate by restarting the instances with
 * the new key (the first one restarted switches all of them).
 */
import { sql } from 'kysely';
import type { AuthService } from '../auth/auth.service.js';
import type { BusContext } from './bus.js';

const NAME = 'bootstrap_key';
/** The state channel's message that the bootstrap key changed. */
export const BOOTSTRAP_CHANGED = 'bootstrap';

type Identity = ReturnType<AuthService['bootstrapIdentity']>;

export class BootstrapKey {
  constructor(private readonly o: BusContext & { auth: AuthService }) {}

  /** At start: puts this instance's API_KEY in force unless it is already. */
  async start(): Promise<void> {
    const own = this.o.auth.bootstrapIdentity();
    const current = await this.read();
    if (current?.hash === own.hash) return;
    await sql`insert into cluster_state (name, value, updated_by)
      values (${NAME}, ${JSON.stringify(own)}, ${this.o.instanceId})
      on conflict (name) do update set value = excluded.value, updated_by = excluded.updated_by`.execute(
      this.o.db,
    );
    if (current) this.o.log.info('cluster: API_KEY changed; the other instances now accept this one only');
    await this.o.bus.notify(
      this.o.db,
      'state',
      JSON.stringify({ from: this.o.instanceId, changes: [BOOTSTRAP_CHANGED] }),
    );
  }

  /** Another instance put its API_KEY in force: accept that one. */
  async changed(): Promise<void> {
    try {
      const current = await this.read();
      if (current) this.o.auth.useBootstrapIdentity(current);
    } catch (err) {
      this.o.log.warn({ err }, 'cluster: could not read the API_KEY in force');
    }
  }

  private async read(): Promise<Identity | undefined> {
    const row = await this.o.db
      .selectFrom('cluster_state')
      .select('value')
      .where('name', '=', NAME)
      .executeTakeFirst();
    return row ? (JSON.parse(row.value) as Identity) : undefined;
  }
}
