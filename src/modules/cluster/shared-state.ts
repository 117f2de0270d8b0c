/**
 * State every instance caches, kept in step across a cluster: a key deleted or a JWT logged
 * out on one instance (the auth service's revocation listeners) and a webhook created, changed,
 * disabled or deleted (the webhooks repository's change hook) are announced on the `state`
 * channel; the other instances drop their caches at once, and their streams check their
 * credentials again (src/modules/events/streams.ts ends those of a revoked one). Without this,
 * another instance would notice within its cache times (30 s for credentials, 2 s for webhooks).
 */
import type { AuthService } from '../auth/auth.service.js';
import type { WebhooksRepository } from '../webhooks/webhooks.repository.js';
import { BOOTSTRAP_CHANGED, type BootstrapKey } from './bootstrap-key.js';
import type { BusContext } from './bus.js';

type Change = 'auth' | 'webhooks' | typeof BOOTSTRAP_CHANGED;

export class SharedState {
  /** Set while applying another instance's change, so it is not announced back. */
  private applying = false;
  private readonly pending = new Set<Change>();
  private flushing = false;

  constructor(
    private readonly o: BusContext & {
      auth: AuthService;
      webhooks: WebhooksRepository;
      bootstrapKey: BootstrapKey;
    },
  ) {
    o.auth.onRevocation(() => this.changed('auth'));
    o.webhooks.onChanged = () => this.changed('webhooks');
    o.bus.on('state', (payload) => this.apply(payload));
  }

  private changed(change: Change): void {
    if (this.applying) return;
    this.pending.add(change);
    if (this.flushing) return;
    this.flushing = true;
    // Changes made in one turn of the event loop go out as one notification.
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    const changes = [...this.pending];
    this.pending.clear();
    try {
      await this.o.bus.notify(this.o.db, 'state', JSON.stringify({ from: this.o.instanceId, changes }));
    } catch (err) {
      // The others notice by their cache times.
      this.o.log.warn({ err, changes }, 'cluster: could not announce a change to the other instances');
    } finally {
      this.flushing = false;
      if (this.pending.size > 0) this.changed([...this.pending][0]!);
    }
  }

  private apply(payload: string): void {
    let message: { from?: string; changes?: Change[] };
    try {
      message = JSON.parse(payload) as typeof message;
    } catch {
      return;
    }
    if (message.from === this.o.instanceId) return;
    this.applying = true;
    try {
      if (message.changes?.includes('auth')) this.o.auth.forgetResolved();
      if (message.changes?.includes('webhooks')) this.o.webhooks.forgetEnabled();
      if (message.changes?.includes(BOOTSTRAP_CHANGED)) void this.o.bootstrapKey.changed();
    } finally {
      this.applying = false;
    }
  }
}
