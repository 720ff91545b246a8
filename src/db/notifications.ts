import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../log/logger.js';
import { untilAborted, type Deadline } from '../time/clock.js';
import type { Database, NotificationListener } from './database.js';
import { channelLabel, channelName, SHARED_CHANNELS, type RowChannel, type SharedChannel } from './channels.js';
import type { DatabaseMetrics } from './metrics.js';

/** How often waiters look anyway while the listening connection is down (it may have missed notifications). */
const DISCONNECTED_POLL_MS = 250;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 5_000;
/** How long a subscriber waits for its LISTEN before it goes on (a stalled database: it polls meanwhile). */
const LISTEN_WAIT_MS = 1_000;

/**
 * One wake-up flag: set by a notification (or a reconnect, which may have missed some), consumed
 * by `wait`. Subscribing before reading what to wait for means nothing announced in between is lost.
 */
export class Subscription {
  private pending = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly hub: { readonly connected: boolean },
    private readonly unsubscribe: (s: Subscription) => void,
  ) {}

  /** `payload` is the notification's; undefined when waking everyone after a reconnect. */
  notify(_payload?: string): void {
    this.pending = true;
    this.wake?.();
  }

  /**
   * Resolves at once if notified since the last wait; otherwise on the next notification, after
   * `safetyMs` (sooner while the listening connection is down), or when `signal` aborts.
   */
  async wait(safetyMs: number, signal?: AbortSignal): Promise<void> {
    if (!this.pending && !signal?.aborted) {
      const ms = this.hub.connected ? safetyMs : Math.min(safetyMs, DISCONNECTED_POLL_MS);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          this.wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal?.addEventListener('abort', done, { once: true });
        this.wake = done;
      });
    }
    this.pending = false;
  }

  close(): void {
    this.unsubscribe(this);
    this.wake?.();
  }
}

/**
 * The replica's one listening connection, shared by every waiter in it: followers of a stream
 * generated elsewhere, task event streams, and the claim loops of the task and detached-stream
 * workers. A connection that breaks is reopened with backoff, listens again on every channel
 * still wanted, and every waiter is woken once, to catch up on what it may have missed.
 */
export class Notifications {
  private readonly subs = new Map<string, Set<Subscription>>();
  private listener: NotificationListener | undefined;
  /** LISTEN and UNLISTEN in the order asked, one at a time. */
  private ops: Promise<void> = Promise.resolve();
  private closed = false;
  private retryMs = RECONNECT_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private opening: Promise<void> | undefined;

  constructor(
    private readonly db: Pick<Database, 'listen'>,
    private readonly logger: Logger,
    private readonly metrics?: Pick<DatabaseMetrics, 'notifications' | 'listening'>,
  ) {}

  get connected(): boolean {
    return this.listener !== undefined;
  }

  /** Opens the listening connection; a failure is logged and retried (waiters poll meanwhile). */
  start(): Promise<void> {
    this.opening ??= this.open();
    return this.opening;
  }

  /**
   * Wakes on notifications about the row `key` of a row channel, or on every notification of a
   * shared one. Resolves once the database listens, so whatever is written after it is heard.
   */
  async subscribe(channel: RowChannel, key: string): Promise<Subscription>;
  async subscribe(channel: SharedChannel): Promise<Subscription>;
  async subscribe(channel: RowChannel | SharedChannel, key?: string): Promise<Subscription> {
    const name = channelName(channel, key);
    const sub = new Subscription(this, (s) => {
      const set = this.subs.get(name);
      set?.delete(s);
      if (set?.size === 0) {
        this.subs.delete(name);
        if (!isShared(name)) void this.queue((l) => l.unlisten(name));
      }
    });
    const set = this.subs.get(name);
    if (!set) {
      this.subs.set(name, new Set([sub]));
      if (!isShared(name))
        await Promise.race([this.queue((l) => l.listen(name)), delay(LISTEN_WAIT_MS, undefined, { ref: false })]);
    } else set.add(sub);
    return sub;
  }

  /**
   * Calls `fn` with the payload of every notification of a shared channel (and with undefined
   * after a reconnect); returns the unsubscribe.
   */
  async on(channel: SharedChannel, fn: (payload: string | undefined) => void): Promise<() => void> {
    const sub = await this.subscribe(channel);
    const notify = sub.notify.bind(sub);
    sub.notify = (payload) => {
      notify(payload);
      fn(payload);
    };
    return () => sub.close();
  }

  async close(deadline: Deadline): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    for (const set of [...this.subs.values()]) for (const s of [...set]) s.close();
    const listener = this.listener;
    this.listener = undefined;
    this.metrics?.listening.set(0);
    await Promise.race([listener?.close(), untilAborted(deadline.signal)]);
  }

  /** Runs a LISTEN or UNLISTEN on the open connection (none while it is down: reopening listens afresh). */
  private queue(op: (l: NotificationListener) => Promise<void>): Promise<void> {
    const next = this.ops.then(async () => {
      const listener = this.listener;
      if (!listener) return;
      try {
        await op(listener);
      } catch (err) {
        if (listener === this.listener) this.lost(err as Error);
      }
    });
    this.ops = next;
    return next;
  }

  private async open(): Promise<void> {
    try {
      const listener = await this.db.listen({
        notification: (name, payload) => this.dispatch(name, payload),
        lost: (err) => this.lost(err),
      });
      this.listener = listener;
      // Shared channels always; a row's while someone here waits on it.
      for (const name of [...SHARED_CHANNELS, ...this.subs.keys()].filter((n, i, all) => all.indexOf(n) === i))
        await listener.listen(name);
      if (this.closed) {
        this.listener = undefined;
        await listener.close();
        return;
      }
      this.metrics?.listening.set(1);
      this.retryMs = RECONNECT_MIN_MS;
      // Whatever was announced while we were not listening is unknown: everyone looks once.
      this.wakeAll();
    } catch (err) {
      // A connection that never opened: say so once per outage, not at every retry.
      if (!this.listener && this.retryMs === RECONNECT_MIN_MS)
        this.logger.warn({ err: (err as Error).message }, 'cannot listen for database notifications; waiters poll, retrying');
      this.lost(err as Error);
    } finally {
      this.opening = undefined;
    }
  }

  private lost(err: Error): void {
    if (this.listener) this.logger.warn({ err: err.message }, 'database notifications lost; waiters poll until they are back');
    const listener = this.listener;
    this.listener = undefined;
    void listener?.close();
    this.metrics?.listening.set(0);
    if (this.closed || this.retryTimer) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closed) void this.start();
    }, delay);
    this.retryTimer.unref();
  }

  private dispatch(name: string, payload: string): void {
    this.metrics?.notifications.inc({ channel: channelLabel(name) });
    for (const s of this.subs.get(name) ?? []) s.notify(payload);
  }

  private wakeAll(): void {
    for (const set of this.subs.values()) for (const s of set) s.notify();
  }
}

function isShared(name: string): boolean {
  return (SHARED_CHANNELS as readonly string[]).includes(name);
}
