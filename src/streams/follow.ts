import type { DrainState } from '../drain/types.js';
import { tailLog, type TailedLog } from '../http/log-tail.js';
import type { Notifications, Subscription } from '../db/notifications.js';
import type { Logger } from '../log/logger.js';
import type { StreamMetrics } from './metrics.js';
import type { ClaimVia } from '../leases/table.js';
import type { Admission } from './admission.js';
import type { StreamClient } from './client.js';
import type { Generation } from './generation.js';
import type { Entry } from './protocol.js';
import type { StreamRow, StreamStore } from './store.js';

/**
 * How long a follower waits for a notification before it reads the log anyway: a lease that
 * expires (its replica died) announces nothing, so this bounds how late a takeover comes.
 */
const SAFETY_NET_MS = 1_000;
const PAGE = 512;

/** What following needs of the replica's stream manager. */
export interface FollowContext {
  readonly store: StreamStore;
  readonly drain: DrainState;
  readonly admission: Admission;
  readonly logger: Logger;
  readonly metrics: StreamMetrics;
  readonly notifications: Notifications;
  /** True once this replica handed off: from then on nothing here queries the database. */
  readonly closed: boolean;
  /** The generation of `id` on this replica, if any. */
  local(id: string): Generation | undefined;
  /** Continues a claimed stream here from its persisted log. */
  adopt(row: StreamRow & { readonly via: ClaimVia | undefined }, log: readonly Entry[]): Generation;
  /** The whole answer's text, for a client whose last frames repeat it. */
  answer(row: StreamRow): Promise<string>;
}

/**
 * Copies the log to a client while another replica generates, and takes the generation over once
 * nobody holds its lease (released at handoff or by an abort, or expired after a crash).
 */
export async function follow(ctx: FollowContext, sink: StreamClient, first: StreamRow): Promise<void> {
  // Subscribed before the first read, so a write announced in between is not missed.
  const grew = await ctx.notifications.subscribe('lastcall_stream', sink.streamId);
  try {
    await followLog(ctx, sink, first, grew);
  } finally {
    grew.close();
  }
}

async function followLog(ctx: FollowContext, sink: StreamClient, first: StreamRow, grew: Subscription): Promise<void> {
  let known: StreamRow | undefined = first;
  const log: TailedLog<StreamRow, Entry> = {
    async head(cursor, limit) {
      if (known) {
        const head = known;
        known = undefined;
        return { head };
      }
      const read = await ctx.store.getWithEntries(sink.streamId, cursor, limit);
      return read && { head: read.row, page: read.entries };
    },
    page: (cursor, limit) => ctx.store.entries(sink.streamId, cursor, limit),
    seqOf: (c) => c.seq,
    lastOf: (row) => row.lastSeq,
    finished: (row) => row.status !== 'generating' && row.finish !== null,
  };
  for (;;) {
    const local = ctx.local(sink.streamId);
    if (local?.accepting) return local.attach(sink);
    if (local) await local.settled; // stopping here: its lease is released before we look again
    const end = await tailLog(log, sink, {
      pageSize: PAGE,
      waitForMore: (signal) => grew.wait(SAFETY_NET_MS, signal),
      stopped: () => ctx.closed || ctx.local(sink.streamId) !== undefined,
      interrupt: (row) => row.status === 'generating' && row.claimable && !ctx.drain.draining && ctx.admission.hasRoom(),
    });
    switch (end.kind) {
      case 'closed':
        return;
      case 'gone':
        throw new Error('stream row vanished');
      case 'finished': {
        const row = end.head;
        // Ahead by more than the final event: the log was regenerated differently (non-deterministic upstream).
        if (sink.cursor > row.lastSeq + 1) {
          const message = `the stream ended at ${row.lastSeq}, before Last-Event-ID ${sink.cursor}`;
          return sink.finish(row.lastSeq, { error: { code: 'ahead_of_log', message } });
        }
        return sink.finish(row.lastSeq, row.finish!, sink.finishNeedsAnswer ? await ctx.answer(row) : '');
      }
      case 'interrupted': {
        if (ctx.closed) return void sink.endResumable('server_shutdown');
        // A draining replica takes nothing over, also when its own generation of this stream just
        // released the lease at handoff (the tail saw it stopping, then it was gone): it follows on
        // until it is closed, and another replica continues the stream.
        if (ctx.local(sink.streamId) || ctx.drain.draining) continue;
        const gen = await takeOver(ctx, end.head.id);
        if (gen) return gen.attach(sink);
      }
    }
  }
}

/** Claims a stream this replica follows and continues it here. */
async function takeOver(ctx: FollowContext, id: string): Promise<Generation | undefined> {
  return ctx.admission.reserve(async () => {
    const row = await ctx.store.claim(id);
    return row && continueClaimed(ctx, row);
  });
}

/**
 * Continues a stream this replica just claimed from its persisted log (or gives it back if the log
 * cannot be read). A claim that lands once this replica is handing off is given back at once
 * (undefined): the handoff has already stopped the generations it knew of, and one adopted now
 * would run on unstopped until the pool closes and its lease expires.
 */
export async function continueClaimed(
  ctx: FollowContext,
  row: StreamRow & { readonly via: ClaimVia | undefined },
): Promise<Generation | undefined> {
  let log: Entry[];
  try {
    log = await ctx.store.log(row.id, row.lastSeq);
  } catch (err) {
    await ctx.store.leases.release({ id: row.id, epoch: row.epoch });
    throw err;
  }
  if (ctx.drain.reached('handoff')) {
    await ctx.store.leases.release({ id: row.id, epoch: row.epoch });
    return undefined;
  }
  return ctx.adopt(row, log);
}
