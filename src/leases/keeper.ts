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

/**
 * The one heartbeat policy, for every leased thing on this replica (one keeper per table):
 * every lease/3 all held leases are extended in one statement. A lease the database no longer
 * confirms as ours (taken over, cancelled, expired) is lost at once. When the database cannot be
 * reached, work goes on while the last confirmation is younger than one lease — a blip must not
 * stop every stream — and stops once it is older, because from then on another replica may
 * rightly have claimed the row and would be working on it too.
 */
export class LeaseKeeper {
  private readonly held = new Map<string, Held>();
  private readonly timer: NodeJS.Timeout;
  private busy = false;

  constructor(
    private readonly table: LeaseTable,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => void this.beat(), (table.leaseSeconds * 1000) / 3);
    this.timer.unref();
  }

  /** Keeps `lease` (just claimed) alive until dropped or lost. */
  hold(lease: Lease, onLost: (why: LeaseLoss) => void): void {
    this.held.set(lease.id, { lease, onLost, confirmedAt: performance.now() });
  }

  drop(id: string): void {
    this.held.delete(id);
  }

  stop(): void {
    clearInterval(this.timer);
    this.held.clear();
  }

  private async beat(): Promise<void> {
    if (this.busy || this.held.size === 0) return;
    this.busy = true;
    const beating = [...this.held.values()];
    try {
      const lost = await this.table.extend(beating.map((h) => h.lease));
      const now = performance.now();
      for (const h of beating) {
        if (lost.has(h.lease.id)) this.lose(h, 'lease_lost');
        else h.confirmedAt = now;
      }
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, leases: beating.length }, 'lease heartbeat failed');
      const leaseMs = this.table.leaseSeconds * 1000;
      for (const h of beating) if (performance.now() - h.confirmedAt > leaseMs) this.lose(h, 'lease_unconfirmed');
    } finally {
      this.busy = false;
    }
  }

  private lose(h: Held, why: LeaseLoss): void {
    if (this.held.get(h.lease.id) !== h) return;
    this.held.delete(h.lease.id);
    h.onLost(why);
  }
}
