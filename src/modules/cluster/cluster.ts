/**
 * One instance's part in a cluster (CLUSTER=true, several instances on one PostgreSQL): its
 * heartbeat, the leases of the sessions it runs (leases.ts), taking over sessions nobody runs
 * (least loaded instances first), and handing its own over at a clean shutdown.
 *
 * Every third of the lease TTL the instance renews its leases and heartbeat and looks for
 * orphaned sessions; a released lease wakes the others at once (PostgreSQL NOTIFY), the timer
 * being the fallback. A lease the instance can no longer trust (renewal refused or failing
 * for too long, or the process was paused) drops its client at once: the session is never
 * used by two instances, and its auth key never connected twice.
 */
import type { Logger } from 'pino';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.js';
import type { SessionOwnership } from '../sessions/session-registry.js';
import type { SessionRow } from '../sessions/sessions.repository.js';
import { Instances, type LiveInstance } from './instances.js';
import { LeaseStore } from './leases.js';
import type { ClusterBus } from './bus.js';

/** What the cluster needs of the session manager. */
export interface ClusterSessions {
  /** Connects a session this instance has just taken the lease of. */
  resume(id: string): Promise<void>;
  /** Drops a session's client at once, leaving its row alone (its lease is gone). */
  relinquish(id: string): Promise<void>;
  /**
   * Saves a session's state and disconnects it, its lease still held, to give it away; false
   * (nothing done) for a session that cannot move now (not connected, or signing in).
   */
  handOver(id: string): Promise<boolean>;
}

export interface ClusterOptions {
  db: Kysely<Database>;
  /** The instances' one LISTEN connection (ClusterSync's), here for the `leases` topic. */
  bus: ClusterBus;
  instanceId: string;
  instanceUrl: string;
  leaseTtlMs: number;
  /** Sessions handed over per round to even out the load (see rebalance); 0: never. */
  rebalanceBatch: number;
  log: Logger;
}

export class Cluster implements SessionOwnership {
  readonly leases: LeaseStore;
  readonly instances: Instances;
  private sessions?: ClusterSessions;
  private tickTimer?: NodeJS.Timeout;
  private pollTimer?: NodeJS.Timeout;
  private trustTimer?: NodeJS.Timeout;
  private stopping = false;
  private picking?: Promise<void>;
  private pickAgain = false;
  /** Sessions being handed over (rebalance): not to be used or connected again meanwhile. */
  private readonly leaving = new Set<string>();

  constructor(private readonly o: ClusterOptions) {
    // The holder stops trusting a lease a third of the TTL before it can expire: two renewals
    // may fail before that, and the client has time to close.
    this.leases = new LeaseStore(o.db, o.instanceId, o.leaseTtlMs, Math.ceil(o.leaseTtlMs / 3));
    this.instances = new Instances(o.db, { id: o.instanceId, url: o.instanceUrl }, o.leaseTtlMs);
    // Leases given back elsewhere: the sessions may be taken over at once, not at the next poll.
    o.bus.on('leases', () => this.wake());
  }

  get instanceId(): string {
    return this.o.instanceId;
  }

  /** Joins the cluster and starts taking over sessions nobody runs. */
  async start(sessions: ClusterSessions): Promise<void> {
    this.sessions = sessions;
    await this.instances.heartbeat();
    const period = Math.max(500, Math.floor(this.o.leaseTtlMs / 3));
    this.tickTimer = setInterval(() => void this.tick(), period);
    this.tickTimer.unref();
    this.trustTimer = setInterval(() => this.dropUntrusted(), Math.min(1000, period));
    this.trustTimer.unref();
    // Expired leases are looked for twice per renewal: NOTIFY covers clean stops, this kill -9.
    this.pollTimer = setInterval(() => this.wake(), Math.max(250, Math.floor(period / 2)));
    this.pollTimer.unref();
    this.wake();
  }

  /**
   * The start of a shutdown: stops taking sessions over and leaves the instance list, so no new
   * session is placed here (its own sessions stay leased until they have disconnected).
   */
  async quiesce(): Promise<void> {
    this.stopping = true;
    await this.instances.leave().catch(() => undefined);
  }

  /** After the sessions disconnected: gives every lease back, wakes the others, leaves. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.tickTimer);
    clearInterval(this.trustTimer);
    clearInterval(this.pollTimer);
    await this.picking?.catch(() => undefined);
    try {
      await this.leases.release([...this.leases.held.keys()]);
      await this.o.bus.notify(this.o.db, 'leases');
      await this.instances.leave();
    } catch (err) {
      this.o.log.warn({ err }, 'cluster: could not release leases (they expire by themselves)');
    }
  }

  // ---------------------------------------------------------------- SessionOwnership

  async claim(id: string): Promise<boolean> {
    if (this.leaving.has(id)) return false;
    if (this.stopping) return this.leases.valid(id);
    return this.leases.acquire(id);
  }

  mayRun(id: string): boolean {
    return this.leases.valid(id) && !this.leaving.has(id);
  }

  async release(id: string): Promise<void> {
    if (!this.leases.held.has(id)) return;
    await this.leases.release([id]);
    // A session deleted or signed out needs no owner; one disconnected on request neither,
    // until it is connected again (by whichever instance is asked).
    await this.o.bus.notify(this.o.db, 'leases');
  }

  async writeFenced(id: string, patch: Partial<SessionRow>): Promise<boolean> {
    const fence = this.leases.fence(id);
    if (!fence) return false;
    const res = await this.o.db
      .updateTable('tg_sessions')
      .set(patch)
      .where('id', '=', id)
      .where(fence)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async runElsewhere(id: string): Promise<boolean> {
    return (await this.instances.ownerOf(id)) !== undefined;
  }

  // ---------------------------------------------------------------- placement and forwarding

  /** The live instance other than this one that runs the session, if any. */
  ownerOf(sessionId: string): Promise<LiveInstance | undefined> {
    if (this.leases.valid(sessionId)) return Promise.resolve(undefined);
    return this.instances.ownerOf(sessionId);
  }

  /** Where a new session goes: the least loaded live instance (this one on a tie). */
  async placeNew(): Promise<LiveInstance> {
    const live = await this.instances.live();
    return live[0] ?? { id: this.o.instanceId, url: this.o.instanceUrl, load: this.leases.held.size };
  }

  // ---------------------------------------------------------------- the loop

  private async tick(): Promise<void> {
    if (this.stopping) return;
    try {
      await this.instances.heartbeat();
      const lost = await this.leases.renew();
      for (const id of lost) this.lose(id, 'lease taken over');
    } catch (err) {
      this.o.log.warn({ err }, 'cluster: lease renewal failed');
      return;
    }
    await this.rebalance().catch((err: unknown) => this.o.log.warn({ err }, 'cluster: rebalancing failed'));
  }

  /**
   * Evens out the load when an instance runs at least two sessions more than the least loaded
   * one (one joined, or came back after a restart): hands over half the difference, at most
   * the batch per round, and no more than brings it down to the average. Each session's state
   * is saved and its client disconnected before its lease goes back (never two connections on
   * one auth key); the leases' release wakes the others, and the least loaded take them, since
   * an instance takes only up to its share of the average (pickUp), this one included.
   */
  private async rebalance(): Promise<void> {
    if (this.stopping || !this.sessions || this.picking || this.o.rebalanceBatch === 0) return;
    const live = await this.instances.live();
    const me = live.find((i) => i.id === this.o.instanceId);
    const least = live[0];
    if (!me || !least || least.id === me.id) return;
    const average = Math.ceil(live.reduce((sum, i) => sum + i.load, 0) / live.length);
    const give = Math.min(me.load - average, Math.floor((me.load - least.load) / 2), this.o.rebalanceBatch);
    if (give <= 0) return;
    // The sessions taken most recently first: the ones longest here keep their connections.
    const candidates = [...this.leases.held.keys()].reverse();
    let moved = 0;
    for (const id of candidates) {
      if (moved >= give || this.stopping) break;
      this.leaving.add(id);
      try {
        if (!(await this.sessions.handOver(id))) {
          this.leaving.delete(id);
          continue;
        }
        await this.leases.release([id]);
        this.leaving.delete(id);
        moved += 1;
      } catch (err) {
        // Still leased here (the release failed): run it here again rather than leave it idle.
        this.leaving.delete(id);
        this.o.log.warn({ err, sessionId: id }, 'cluster: handing the session over failed; keeping it');
        if (this.leases.held.has(id)) void this.sessions.resume(id).catch(() => undefined);
      }
    }
    if (moved === 0) return;
    this.o.log.info({ moved, to: least.id }, 'cluster: handed sessions over to even out the load');
    await this.o.bus.notify(this.o.db, 'leases');
  }

  /** Looks for sessions nobody runs now (coalesced: one search at a time, one more queued). */
  wake(): void {
    if (this.stopping) return;
    if (this.picking) {
      this.pickAgain = true;
      return;
    }
    this.picking = this.pickUp()
      .catch((err: unknown) => this.o.log.warn({ err }, 'cluster: taking over sessions failed'))
      .finally(() => {
        this.picking = undefined;
        if (this.pickAgain) {
          this.pickAgain = false;
          this.wake();
        }
      });
  }

  /**
   * Takes this instance's share of the sessions nobody runs: enough to bring it up to the
   * average load of the live instances, so the least loaded take the most; a lease lost to a
   * faster instance is skipped.
   */
  private async pickUp(): Promise<void> {
    const orphans = (await this.instances.orphans()).filter((id) => !this.leases.held.has(id));
    if (orphans.length === 0 || this.stopping) return;
    const live = await this.instances.live();
    const load = live.find((i) => i.id === this.o.instanceId)?.load ?? this.leases.held.size;
    const others = live.filter((i) => i.id !== this.o.instanceId);
    const total = others.reduce((sum, i) => sum + i.load, load) + orphans.length;
    let share = Math.ceil(total / (others.length + 1)) - load;
    for (const id of orphans) {
      if (share <= 0 || this.stopping) break;
      if (!(await this.leases.acquire(id))) continue;
      share -= 1;
      this.o.log.info({ sessionId: id }, 'cluster: taking the session over');
      void this.sessions?.resume(id).catch(() => undefined);
    }
  }

  private dropUntrusted(): void {
    for (const id of this.leases.expired()) this.lose(id, 'lease no longer trusted');
  }

  private lose(id: string, reason: string): void {
    this.leases.forget(id);
    this.o.log.warn({ sessionId: id, reason }, 'cluster: lease lost, dropping the session');
    void this.sessions?.relinquish(id).catch(() => undefined);
  }
}
