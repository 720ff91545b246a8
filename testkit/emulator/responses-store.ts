import type { EmulatorConfig } from './config.js';

/** A Responses streaming event; `sequence_number` is its index in the response's event log. */
export interface ResponseEvent {
  type: string;
  sequence_number: number;
  [key: string]: unknown;
}

/** One response: its live object, its full event log, and the generation behind it. */
export interface ResponseEntry {
  id: string;
  /** The Response object, updated as tokens arrive so a retrieve shows progress. */
  object: Record<string, unknown> & { status: string };
  events: ResponseEvent[];
  done: boolean;
  background: boolean;
  /** OpenAI: only a background response created with stream=true can be streamed again. */
  resumable: boolean;
  /** Aborting it stops the generation. */
  abort: AbortController;
  /** Set when the response finishes; stored responses are forgotten this long after. */
  expiresAt: number | null;
  listeners: Set<() => void>;
}

/**
 * The server-side store of responses: kept while they run, and for `responseTtlSeconds` after they
 * finish, at most `maxStoredResponses` of them (the oldest finished ones go first).
 */
export class ResponseStore {
  private readonly entries = new Map<string, ResponseEntry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly config: EmulatorConfig) {
    this.sweeper = setInterval(() => this.sweep(), 1000);
    this.sweeper.unref();
  }

  put(entry: ResponseEntry): void {
    this.entries.set(entry.id, entry);
    this.evict();
  }

  get(id: string): ResponseEntry | undefined {
    this.sweep();
    return this.entries.get(id);
  }

  /** Forgets a response and stops its generation, as an upstream that lost it would. */
  remove(id: string): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.entries.delete(id);
    entry.abort.abort();
    return true;
  }

  clear(): void {
    for (const id of [...this.entries.keys()]) this.remove(id);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.clear();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, e] of this.entries) if (e.expiresAt !== null && e.expiresAt <= now) this.entries.delete(id);
  }

  private evict(): void {
    while (this.entries.size > this.config.maxStoredResponses) {
      const victim = [...this.entries.values()].find((e) => e.done) ?? this.entries.values().next().value;
      if (!victim) return;
      this.remove(victim.id);
    }
  }
}

/** Appends an event with the next gap-free sequence number and wakes everyone following the log. */
export function emit(entry: ResponseEntry, event: { type: string; [key: string]: unknown }): void {
  entry.events.push({ ...event, sequence_number: entry.events.length });
  wake(entry);
}

/** Marks the response finished (whatever its status), starting its time-to-live. */
export function settle(entry: ResponseEntry, ttlSeconds: number): void {
  entry.done = true;
  entry.expiresAt = Date.now() + ttlSeconds * 1000;
  wake(entry);
}

function wake(entry: ResponseEntry): void {
  for (const listener of [...entry.listeners]) listener();
}

/** Yields the events after sequence number `after`, then live ones, until the response is done. */
export async function* follow(entry: ResponseEntry, after: number, signal: AbortSignal): AsyncGenerator<ResponseEvent> {
  let next = after + 1;
  while (!signal.aborted) {
    while (next < entry.events.length) yield entry.events[next++]!;
    if (entry.done) return;
    await new Promise<void>((resolve) => {
      const listener = () => {
        entry.listeners.delete(listener);
        signal.removeEventListener('abort', listener);
        resolve();
      };
      entry.listeners.add(listener);
      signal.addEventListener('abort', listener, { once: true });
    });
  }
}

/** Resolves when the response is done, or when `signal` aborts. */
export async function finished(entry: ResponseEntry, signal: AbortSignal): Promise<void> {
  const events = follow(entry, entry.events.length - 1, signal);
  while (!(await events.next()).done);
}
