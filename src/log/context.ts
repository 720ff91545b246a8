import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What a log line is about, carried through the async work of one request: its id, and the
 * stream or task it started or touched. Work a request starts (a generation) keeps its context,
 * so those lines name the request that began them.
 */
export interface LogContext {
  readonly requestId: string;
  streamId?: string;
  taskId?: string;
}

const storage = new AsyncLocalStorage<LogContext>();

/** Runs `fn` (and everything it starts) in `ctx`. */
export function withLogContext<T>(ctx: LogContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

/** Runs `fn` (and everything it starts) outside any request: work of the replica's own. */
export function outsideLogContext<T>(fn: () => T): T {
  return storage.exit(fn);
}

/** The context of the running request, if any. */
export function logContext(): LogContext | undefined {
  return storage.getStore();
}

/** Names the stream or task the running request is about, on its later log lines. */
export function noteInLogContext(about: { streamId?: string; taskId?: string }): void {
  const ctx = storage.getStore();
  if (ctx) Object.assign(ctx, about);
}
