import type { SharedChannel } from '../db/channels.js';
import type { Notifications } from '../db/notifications.js';
import { outsideLogContext } from '../log/context.js';
import type { Logger } from '../log/logger.js';

/** How long an idle replica waits before it looks for free work anyway: nothing it was told of is due. */
const SAFETY_NET_MS = 300_000;
/** ...and while the listening connection is down, when it may be told nothing at all. */
const UNTOLD_MS = 2_000;
/** A claim lands this long after the lease it waits for expires, so the database's clock agrees. */
const EXPIRY_MARGIN_MS = 200;
/** After a failed look (the database is down), the next one comes this soon. */
const RETRY_MS = 1_000;

export interface ClaimLoopOptions {
  /** Claims free work while there is any and this replica has room. */
  claimAll(): Promise<void>;
  /** Milliseconds until the first lease another replica holds expires (a dead holder's work frees then), if any. */
  nextExpiry(): Promise<number | undefined>;
  readonly notifications: Notifications;
  /** Announces work anyone may claim. */
  readonly channel: SharedChannel;
  /** Announces a lease taken elsewhere: that work is free when it expires, should its holder die. */
  readonly leasedChannel: SharedChannel;
  readonly leaseSeconds: number;
  /** This replica, as lease holders are named. */
  readonly replica: string;
  readonly logger: Logger;
  /** What is claimed, for the log. */
  readonly what: string;
}

/**
 * When a replica looks for work nobody holds: at once when the database announces some (queued,
 * or released at a handoff), when room frees here (`wake`), and when a lease held elsewhere may
 * expire (its holder may have died, and expiry announces nothing): at the first expiry it saw at
 * its last look, or a lease after another replica announced taking one. Otherwise every 5 min,
 * or every 2 s while it cannot be told. An idle replica therefore costs the database two
 * statements per look, not a poll every few hundred milliseconds. One look runs at a time;
 * wakes during it run one more.
 */
export class ClaimLoop {
  private running = false;
  private looking: Promise<void> | undefined;
  /** A look due (a lease announced) while one was under way. */
  private toldDue = Infinity;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private dueAt = Infinity;
  private unsubscribe: (() => void)[] = [];

  constructor(private readonly opts: ClaimLoopOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    const { notifications, channel, leasedChannel, leaseSeconds } = this.opts;
    void Promise.all([
      notifications.on(channel, () => this.wake()),
      notifications.on(leasedChannel, (holder) => {
        // Our own leases never expire while we run.
        if (holder !== this.opts.replica) this.lookBy(performance.now() + leaseSeconds * 1000 + EXPIRY_MARGIN_MS);
      }),
    ]).then((offs) => {
      if (this.running) this.unsubscribe = offs;
      else for (const off of offs) off();
    });
    this.wake();
  }

  stop(): void {
    this.running = false;
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    clearTimeout(this.timer);
    this.dueAt = Infinity;
  }

  /** Looks for work now (or right after the look under way). */
  wake(): void {
    if (!this.running) return;
    if (this.looking) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.dueAt = Infinity;
    // A wake may come from inside a request (its generation ended): what is claimed is not its.
    this.looking = outsideLogContext(() => this.look()).then((next) => {
      this.looking = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
        return;
      }
      const told = this.toldDue;
      this.toldDue = Infinity;
      this.lookBy(Math.min(next, told));
    });
  }

  /** Claims what is free; resolves with when to look next. */
  private async look(): Promise<number> {
    let next = this.opts.notifications.connected ? SAFETY_NET_MS * (0.75 + Math.random() * 0.5) : UNTOLD_MS;
    try {
      await this.opts.claimAll();
      const expiry = await this.opts.nextExpiry();
      if (expiry !== undefined) next = Math.min(next, Math.max(0, expiry) + EXPIRY_MARGIN_MS);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, `claiming ${this.opts.what} failed; retrying shortly`);
      next = RETRY_MS;
    }
    return performance.now() + next;
  }

  /** Makes sure the next look comes by `at` (an earlier one stays). */
  private lookBy(at: number): void {
    if (!this.running) return;
    if (this.looking) {
      this.toldDue = Math.min(this.toldDue, at);
      return;
    }
    if (at >= this.dueAt) return;
    clearTimeout(this.timer);
    this.dueAt = at;
    this.timer = setTimeout(() => this.wake(), Math.max(0, at - performance.now()));
    this.timer.unref();
  }
}
