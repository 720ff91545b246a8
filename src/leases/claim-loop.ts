import type { SharedChannel } from '../db/channels.js';
import type { Notifications } from '../db/notifications.js';
import { outsideLogContext } from '../log/context.js';
import type { Logger } from '../log/logger.js';

/** How long an idle replica waits before it looks for free work anyway (a lost notification). */
const SAFETY_NET_MS = 30_000;
/** A claim lands this long after the lease it waits for expires, so the database's clock agrees. */
const EXPIRY_MARGIN_MS = 200;
/** After a failed look (the database is down), the next one comes this soon. */
const RETRY_MS = 1_000;

export interface ClaimLoopOptions {
  /** Claims free work while there is any and this replica has room. */
  claimAll(): Promise<void>;
  /** Milliseconds until the first lease held elsewhere expires (a dead holder's work frees then), if any is held. */
  nextExpiry(): Promise<number | undefined>;
  readonly notifications: Notifications;
  /** Announces work anyone may claim. */
  readonly channel: SharedChannel;
  readonly logger: Logger;
  /** What is claimed, for the log. */
  readonly what: string;
}

/**
 * When a replica looks for work nobody holds: at once when the database announces some (queued,
 * or released at a handoff), when room frees here (`wake`), when the first lease held elsewhere
 * expires (its holder may have died: expiry announces nothing), and otherwise every ~30 s. An idle
 * replica therefore costs the database two statements per safety-net interval, not a poll every
 * few hundred milliseconds. One look runs at a time; wakes during it run one more.
 */
export class ClaimLoop {
  private running = false;
  private looking: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly opts: ClaimLoopOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.opts.notifications
      .on(this.opts.channel, () => this.wake())
      .then((off) => {
        if (this.running) this.unsubscribe = off;
        else off();
      });
    this.wake();
  }

  stop(): void {
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearTimeout(this.timer);
  }

  /** Looks for work now (or right after the look under way). */
  wake(): void {
    if (!this.running) return;
    if (this.looking) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    // A wake may come from inside a request (its generation ended): what is claimed is not its.
    this.looking = outsideLogContext(() => this.look()).finally(() => {
      this.looking = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  private async look(): Promise<void> {
    let next = SAFETY_NET_MS * (0.75 + Math.random() * 0.5);
    try {
      await this.opts.claimAll();
      const expiry = await this.opts.nextExpiry();
      if (expiry !== undefined) next = Math.min(next, Math.max(0, expiry) + EXPIRY_MARGIN_MS);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, `claiming ${this.opts.what} failed; retrying shortly`);
      next = RETRY_MS;
    }
    if (!this.running || this.again) return;
    this.timer = setTimeout(() => this.wake(), next);
    this.timer.unref();
  }
}
