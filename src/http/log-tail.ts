/**
 * An append-only log kept in the database, as the tail loop reads it: a head (the row that says
 * how far the log goes and whether it is finished) and pages of entries after a cursor.
 */
export interface TailedLog<H, E> {
  /** The head, and (when the log can read both in one round trip) the first page after `cursor`. */
  head(cursor: number, limit: number): Promise<{ readonly head: H; readonly page?: readonly E[] } | undefined>;
  /** Entries after `cursor` in order, at most `limit`. */
  page(cursor: number, limit: number): Promise<readonly E[]>;
  seqOf(entry: E): number;
  /** The last sequence number the head promises, or undefined to read until a short page. */
  lastOf(head: H): number | undefined;
  finished(head: H): boolean;
}

/** The client end: an SSE connection with a cursor (the last entry it has). */
export interface TailTarget<E> {
  readonly closed: boolean;
  readonly cursor: number;
  /** False when the socket is full: the loop waits for `whenWritable` before the next entry. */
  send(entry: E): boolean;
  whenWritable(): Promise<void>;
  /** Aborts when the client goes away, so a wait for more ends at once. */
  readonly closedSignal: AbortSignal;
}

export type TailEnd<H> =
  | { readonly kind: 'finished'; readonly head: H }
  | { readonly kind: 'closed' }
  | { readonly kind: 'gone' }
  | { readonly kind: 'interrupted'; readonly head: H };

export interface TailOptions<H> {
  readonly pageSize: number;
  /**
   * Waits until the log may have grown: a notification for it, a safety-net timeout, or the
   * client leaving (the signal).
   */
  waitForMore(signal: AbortSignal): Promise<void>;
  /** Checked before each look: true ends the tail as `interrupted` (e.g. this replica hands off). */
  stopped(): boolean;
  /** Looks at each head before it is read: true ends the tail as `interrupted` with that head. */
  interrupt?(head: H): Promise<boolean> | boolean;
}

/**
 * Copies a log to one client: the entries it lacks, a page at a time with backpressure, then a
 * wait for more, until the log is finished, the client leaves, or the caller interrupts. Streams
 * followed on another replica and task progress events are both this loop.
 */
export async function tailLog<H, E>(log: TailedLog<H, E>, target: TailTarget<E>, opts: TailOptions<H>): Promise<TailEnd<H>> {
  for (;;) {
    if (target.closed) return { kind: 'closed' };
    const read = await log.head(target.cursor, opts.pageSize);
    if (!read) return { kind: 'gone' };
    const { head } = read;
    let prefetched = read.page;
    if (opts.stopped() || (await opts.interrupt?.(head))) return { kind: 'interrupted', head };
    const last = log.lastOf(head);
    while (!target.closed && (last === undefined || target.cursor < last)) {
      const entries =
        prefetched ??
        (await log.page(target.cursor, last === undefined ? opts.pageSize : Math.min(opts.pageSize, last - target.cursor)));
      prefetched = undefined;
      if (entries.length > 0 && log.seqOf(entries[0]!) !== target.cursor + 1) {
        throw new Error(`log has no entry ${target.cursor + 1} (next is ${log.seqOf(entries[0]!)})`);
      }
      if (entries.length === 0 && last !== undefined) throw new Error(`log has no entry ${target.cursor + 1}`);
      for (const e of entries) if (!target.send(e) && !target.closed) await target.whenWritable();
      if (entries.length < opts.pageSize && last === undefined) break;
    }
    if (target.closed) return { kind: 'closed' };
    if (log.finished(head)) return { kind: 'finished', head };
    await opts.waitForMore(target.closedSignal);
  }
}
