import type { Logger } from '../log/logger.js';
import type { Lease, LeaseTable } from './table.js';

/** Why a holder must stop: the row is someone else's now, or the database could not confirm it for a whole lease. */
export type LeaseLoss = 'lease_lost' | 'lease_unconfirmed';

interface Held {
  readonly lease: Lease;
  readonly onLost: (why: LeaseLoss) => void;
  /** When the database last confirmed it ours: the claim, then each heartbeat. */
  confirmedAt: number;
}

/** How often held leases are checked for a confirmation grown too old (in memory: no query). */
const CHECK_MS = 250;

/**
 * The one heartbeat policy, for every leased thing on this replica (one keeper per table):
 * every lease/3 all held leases are extended in one statement. A lease the database no longer
 * confirms as ours (taken over, cancelled, expired) is lost at once. When the database cannot be
 * reached (down, stalled, partitioned: the heartbeat itself may hang until its query timeout),
 * work goes on while the last confirmation is younger than one lease less a margin — a blip must
 * not stop every stream — and stops before it is older, because from then on another replica may
 * rightly claim the row and would be working on it too. A confirmation counts from when its
 * heartbeat was sent, not answered: the database set the expiry then.
 */
export class LeaseKeeper {
  private readonly held = new Map<string, Held>();
  private readonly timer: NodeJS.Timeout;
  private readonly checker: NodeJS.Timeout;
  private busy = false;

  constructor(
    private readonly table: LeaseTable,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => void this.beat(), (table.leaseSeconds * 1000) / 3);
    this.timer.unref();
    this.checker = setInterval(() => this.expireUnconfirmed(), CHECK_MS);
    this.checker.unref();
  }

  /** Keeps `lease` (just claimed) alive until dropped or lost. */
  hold(lease: Lease, onLost: (why: LeaseLoss) => void): void {
    this.held.set(lease.id, { lease, onLost, confirmedAt: performance.now() });
  }

  drop(id: string): void {
    this.held.delete(id);
  }

  /**
   * Another write that is fenced and extends the lease landed (a stream's batch): the database
   * confirmed these leases as of `sentAt`, so a heartbeat stuck in a busy pool does not stop them.
   */
  confirm(ids: Iterable<string>, sentAt: number): void {
    for (const id of ids) {
      const h = this.held.get(id);
      if (h) h.confirmedAt = Math.max(h.confirmedAt, sentAt);
    }
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.checker);
    this.held.clear();
  }

  private async beat(): Promise<void> {
    if (this.busy || this.held.size === 0) return;
    this.busy = true;
    const beating = [...this.held.values()];
    const sentAt = performance.now();
    try {
      const lost = await this.table.extend(beating.map((h) => h.lease));
      for (const h of beating) {
        if (lost.has(h.lease.id)) this.lose(h, 'lease_lost');
        else h.confirmedAt = Math.max(h.confirmedAt, sentAt);
      }
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, leases: beating.length }, 'lease heartbeat failed');
    } finally {
      this.busy = false;
    }
  }

  /** Stops what the database has not confirmed for almost a lease, also while a heartbeat hangs. */
  private expireUnconfirmed(): void {
    const leaseMs = this.table.leaseSeconds * 1000;
    // Clocks and the check's own pace: stop a little before the expiry the database counts down.
    const limit = leaseMs - Math.min(1_000, leaseMs / 5);
    const now = performance.now();
    for (const h of [...this.held.values()]) if (now - h.confirmedAt > limit) this.lose(h, 'lease_unconfirmed');
  }

  private lose(h: Held, why: LeaseLoss): void {
    if (this.held.get(h.lease.id) !== h) return;
    this.held.delete(h.lease.id);
    h.onLost(why);
  }
}
