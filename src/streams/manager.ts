import { context, trace } from '@opentelemetry/api';
import type { Response } from 'express';
import type { Notifications } from '../db/notifications.js';
import type { Database, Queryable } from '../db/database.js';
import type { IdempotencyKey, IdempotencyKeys } from '../db/idempotency.js';
import type { DrainState } from '../drain/types.js';
import { conflict, notFound, type ApiError } from '../errors/errors.js';
import type { Owner } from '../http/auth.js';
import type { Tombstones } from '../retention/tombstones.js';
import { requestSignal } from '../http/request-signal.js';
import { LeaseKeeper } from '../leases/keeper.js';
import type { ClaimVia } from '../leases/table.js';
import { answerText, type UpstreamAdapter } from '../llm/upstream.js';
import { noteInLogContext } from '../log/context.js';
import type { Logger } from '../log/logger.js';
import { continueTrace, traceparentOf, tracer } from '../tracing/spans.js';
import type { HttpMetrics } from '../metrics/http.js';
import { untilAborted, type Deadline } from '../time/clock.js';
import { Quiescence } from '../time/quiescence.js';
import { Admission } from './admission.js';
import type { StreamClient } from './client.js';
import { Collector, type Collected } from './collector.js';
import { continueClaimed, follow, type FollowContext } from './follow.js';
import { Generation, type GenerationDeps } from './generation.js';
import type { StreamMetrics } from './metrics.js';
import { newStreamId, type Entry, type FrontDoor, type StreamOutcome, type StreamRequest } from './protocol.js';
import type { Format, Renderer } from './render.js';
import { SseSink } from './sink.js';
import { StreamStore, type StreamLogFormat, type StreamRow } from './store.js';
import { BatchWriter } from './writer.js';

export interface StreamManagerOptions {
  readonly db: Database;
  readonly notifications: Notifications;
  readonly adapter: UpstreamAdapter;
  readonly logger: Logger;
  readonly metrics: StreamMetrics;
  readonly httpMetrics: HttpMetrics;
  readonly drain: DrainState;
  readonly replica: string;
  readonly leaseSeconds: number;
  readonly maxConcurrent: number;
  /** Streams one key may have generating at once, across replicas. */
  readonly perKeyMax: number;
  readonly persist: 'after-send' | 'before-send';
  readonly logFormat: StreamLogFormat;
  readonly formats: Readonly<Record<FrontDoor, Format>>;
  readonly idempotency: IdempotencyKeys;
  readonly tombstones: Tombstones;
}

/** A stream to start: what to generate, the API it is spoken through, and whether it needs a client. */
export interface StartSpec {
  readonly owner: Owner;
  readonly request: StreamRequest;
  readonly format: FrontDoor;
  /** Generated whether or not a client is attached; a worker takes it over at a handoff. */
  readonly detached: boolean;
  /** A retry with the same key joins the stream the first request started. */
  readonly idempotency?: IdempotencyKey;
  /**
   * Runs in the transaction that creates the stream (not for a retry that joins one): a front
   * door's own record of it, which then exists exactly when the stream does.
   */
  readonly alsoInTransaction?: (c: Queryable, streamId: string) => Promise<void>;
}

/** Who receives a stream from its start: an SSE response (with extra headers that need its id), or a collector. */
export type StreamTarget =
  { readonly res: Response; readonly headers?: (streamId: string) => Record<string, string> } | { readonly collect: AbortSignal };

/** Kept back from the handoff deadline so every client gets its `end` before the engine moves on. */
const HANDOFF_MARGIN_MS = 150;

/**
 * The streams of this replica, and what every front door does with one: start it, join or
 * resume it wherever it is generated, wait for its answer, cancel it. It owns the generations
 * running here under a lease (kept by one heartbeat, written by one batch writer), the clients
 * following streams generated elsewhere (follow.ts), the caps (admission.ts), and the handoff.
 */
export class StreamManager implements FollowContext {
  readonly store: StreamStore;
  readonly admission: Admission;
  readonly drain: DrainState;
  readonly logger: Logger;
  readonly metrics: StreamMetrics;
  readonly notifications: Notifications;
  /** Set at handoff: from then on nothing here queries the database. */
  closed = false;
  /**
   * Set when the handoff starts. A generation that starts here after that (a POST or a takeover
   * already under way when the drain began, slowed by a busy database) is handed off at once:
   * left running, it would hold its lease until it expired after the process exited.
   */
  private handingOff = false;
  private readonly lateHandoffs = new Set<Promise<StreamOutcome>>();
  private readonly gens = new Map<string, Generation>();
  private readonly clients = new Set<StreamClient>();
  private readonly quiet = new Quiescence(() => this.gens.size === 0 && this.clients.size === 0);
  private readonly writer: BatchWriter;
  private readonly keeper: LeaseKeeper;
  private readonly genDeps: GenerationDeps;
  private readonly roomFreed = new Set<() => void>();

  constructor(private readonly opts: StreamManagerOptions) {
    this.notifications = opts.notifications;
    this.drain = opts.drain;
    this.logger = opts.logger;
    this.metrics = opts.metrics;
    this.store = new StreamStore(opts.db, opts.replica, opts.leaseSeconds, opts.perKeyMax, opts.logFormat, opts.logger);
    this.admission = new Admission({
      maxConcurrent: opts.maxConcurrent,
      generating: () => this.gens.size,
      clients: () => this.clients.size,
      rejected: (reason) => opts.httpMetrics.rejected.inc({ reason }),
    });
    this.writer = new BatchWriter(
      this.store,
      opts.logger,
      opts.metrics,
      () => this.gens.values(),
      (ids, sentAt) => this.keeper.confirm(ids, sentAt),
    );
    this.keeper = new LeaseKeeper(this.store.leases, opts.logger);
    this.genDeps = {
      adapter: opts.adapter,
      store: this.store,
      metrics: opts.metrics,
      logger: opts.logger,
      persist: opts.persist,
      flush: () => this.writer.flush(),
      batchReady: () => void this.writer.flush(),
      resetPolicy: (format) => opts.formats[format].onReset,
    };
  }

  /**
   * Starts a stream generated here and returns its id; `res` (an SSE response) or a collector
   * (`collect`) receives it from the first entry. With an idempotency key already used by the
   * caller, nothing new starts: the existing stream is joined instead (`joined`).
   */
  start(spec: StartSpec, to: StreamTarget | undefined): Promise<Started> {
    // Held as one database operation: a stream created just as this replica hands off is handed
    // off at once, and its lease must be given back before the pool ends, or it would expire.
    return this.opts.db.hold(() => this.startHere(spec, to));
  }

  private async startHere(spec: StartSpec, to: StreamTarget | undefined): Promise<Started> {
    if (spec.idempotency) {
      const existing = await this.opts.idempotency.find(spec.owner, spec.idempotency, 'stream');
      if (existing) return this.rejoin(spec.owner, existing, to);
    }
    if (to) this.admission.checkClientRoom();
    this.admission.checkGenerationRoom();
    const id = newStreamId();
    noteInLogContext({ streamId: id });
    // Set here, not by the database, so every replica renders the same `created` timestamps.
    const createdAt = new Date(Math.floor(Date.now() / 1000) * 1000);
    const { idempotency, alsoInTransaction, ...rest } = spec;
    const record = async (c: Queryable) => {
      if (idempotency) await this.opts.idempotency.record(c, spec.owner, idempotency, 'stream', id);
      await alsoInTransaction?.(c, id);
    };
    // The stream's trace: a root span (a child of the request's), and this replica's generation
    // under it; both are stored, so whoever takes the stream over continues the same trace.
    const attributes = { 'lastcall.stream.id': id, 'lastcall.front_door': spec.format };
    const root = tracer.startSpan('stream', { attributes });
    const span = tracer.startSpan('stream.generate', { attributes }, trace.setSpan(context.active(), root));
    const rootParent = traceparentOf(root);
    const streamTrace = rootParent ? { root: rootParent, last: traceparentOf(span)! } : undefined;
    root.end();
    let lease;
    try {
      lease = await this.admission.reserve(() => this.store.create({ ...rest, id, createdAt, trace: streamTrace }, record));
    } catch (err) {
      span.end();
      // Two requests with one key at once: the other recorded it first, so this one joins its stream.
      const raced = idempotency && (await this.opts.idempotency.find(spec.owner, idempotency, 'stream'));
      if (raced) return this.rejoin(spec.owner, raced, to);
      throw err;
    }
    this.metrics.started.inc({ front_door: spec.format });
    const stream = { ...rest, id, createdAt };
    const gen = this.track(new Generation(lease, stream, { lastSeq: 0, log: [], cursor: undefined }, this.genDeps, span));
    // A client that left while the row was written is attached closed: a stream tied to its
    // clients then stops at once (a later GET may still resume it); a detached one goes on.
    const client = this.clientFor(to, stream, undefined);
    if (client) gen.attach(client);
    if (this.handingOff) await gen.settled;
    return { id, joined: false, ...(client instanceof Collector && { collected: client.result }) };
  }

  /** An idempotent retry: the stream the first request started, from its beginning. */
  private async rejoin(owner: Owner, id: string, to: StreamTarget | undefined): Promise<Started> {
    if (!to) return { id, joined: true };
    if ('res' in to) {
      for (const [k, v] of Object.entries(to.headers?.(id) ?? {})) to.res.setHeader(k, v);
      await this.join(owner, id, undefined, to.res);
      return { id, joined: true };
    }
    return { id, joined: true, collected: this.collect(owner, id, to.collect) };
  }

  /** Follows a stream to its end from any replica and returns its whole log (a non-streamed answer). */
  async collect(owner: Owner, id: string, signal: AbortSignal): Promise<Collected> {
    const row = await this.owned(owner, id);
    const collector = new Collector(id, signal);
    this.attachFollowing(collector, row);
    return collector.result;
  }

  /**
   * GET /v1/streams/:id and every front door's resume: replays what the client missed, then
   * follows the stream wherever it is generated, in the stream's own format. `position` is the
   * client's resume point in that format (undefined: from the start).
   */
  async join(owner: Owner, id: string, position: number | undefined, res: Response): Promise<void> {
    noteInLogContext({ streamId: id });
    this.admission.checkClientRoom();
    const local = this.gens.get(id);
    if (local?.accepting) {
      if (local.owner !== owner) throw notFound('stream');
      this.metrics.resumes.inc();
      const stream = { id, ...local.spec };
      return local.attach(this.openSink(res, stream, this.opts.formats[stream.format].renderer(stream, position)));
    }
    const row = await this.store.get(id);
    if (requestSignal(res).aborted) return;
    // Another owner's stream looks exactly like a missing one.
    if (!row || row.owner !== owner) throw await this.missing(id, owner);
    const renderer = this.opts.formats[row.format].renderer(row, position);
    if (row.status !== 'generating' && renderer.cursor > row.lastSeq + 1) {
      throw conflict('ahead_of_log', `the resume point is beyond this finished stream's last event ${row.lastSeq + 1}`);
    }
    this.metrics.resumes.inc();
    this.attachFollowing(this.openSink(res, row, renderer), row);
  }

  /** The stream's row, if `owner` owns it; another owner's stream looks exactly like a missing one. */
  async owned(owner: Owner, id: string): Promise<StreamRow> {
    const row = await this.store.get(id);
    if (!row || row.owner !== owner) throw await this.missing(id, owner);
    return row;
  }

  /** 404, or 410 for the owner's stream that retention deleted. */
  private missing(id: string, owner: Owner): Promise<ApiError> {
    return this.opts.tombstones.missing('stream', id, owner);
  }

  /**
   * Cancels a stream its owner no longer wants, wherever it is generated (also during a
   * handoff): the upstream is stopped, the partial answer kept, and every client ends as if it
   * had finished. A finished stream is a 409.
   */
  async cancel(owner: Owner, id: string): Promise<StreamRow> {
    const local = this.gens.get(id);
    if (local?.accepting) {
      if (local.owner !== owner) throw notFound('stream');
      // Generated here: stopped first, so the entries its clients were already sent reach the log
      // before the row says cancelled (from then on its writes are fenced out).
      await local.stop('cancelled');
      const after = await this.owned(owner, id);
      if (after.status === 'cancelled') return after;
      // It ended some other way before the stop landed: cancelled below like any other, or a 409.
    }
    const row = await this.store.cancel(id, owner);
    if (!row) {
      const current = await this.owned(owner, id);
      throw conflict('stream_finished', `stream is already ${current.status}; only a generating stream can be cancelled`);
    }
    if (local) await local.stop('cancelled');
    else await this.opts.adapter.cancel(row.upstream ?? undefined);
    return row;
  }

  /** Deletes a finished stream and its log (a cancelled one first when it was still generating). */
  async delete(owner: Owner, id: string): Promise<void> {
    const row = await this.owned(owner, id);
    if (row.status === 'generating') await this.cancel(owner, id).catch(() => undefined);
    await this.store.remove(id, owner);
  }

  /** The whole answer a stream's log holds now (after its last reset). */
  async answer(row: StreamRow): Promise<string> {
    return answerText(await this.store.log(row.id, row.lastSeq));
  }

  local(id: string): Generation | undefined {
    return this.gens.get(id);
  }

  adopt(row: StreamRow & { readonly via?: ClaimVia | undefined }, log: readonly Entry[]): Generation {
    this.logger.info({ stream: row.id, epoch: row.epoch, fromSeq: row.lastSeq, via: row.via }, 'took over a stream generation');
    if (row.via) this.metrics.takeovers.inc({ via: row.via });
    // The same trace, with a link to the generation of the replica before.
    const span = continueTrace(
      'stream.generate',
      { 'lastcall.stream.id': row.id, 'lastcall.front_door': row.format, 'lastcall.takeover.via': row.via ?? 'client' },
      row.trace,
    );
    const lease = { id: row.id, epoch: row.epoch };
    const last = traceparentOf(span);
    if (last)
      void this.store
        .noteTrace(lease, last)
        .catch((err: Error) => this.logger.debug({ err: err.message }, 'could not note the trace'));
    const gen = new Generation(
      lease,
      { owner: row.owner, request: row.request, format: row.format, detached: row.detached, createdAt: row.createdAt },
      { lastSeq: row.lastSeq, log, cursor: row.upstream ?? undefined },
      this.genDeps,
      span,
    );
    return this.track(gen);
  }

  /** For the detached worker: takes over the detached stream that has waited longest, if this replica has room. */
  async adoptDetached(): Promise<boolean> {
    if (this.closed || this.drain.draining || !this.admission.hasRoom()) return false;
    return this.admission.reserve(async () => {
      const row = await this.store.claimDetached();
      if (!row) return false;
      return (await continueClaimed(this, row)) !== undefined;
    });
  }

  /** Milliseconds until the first lease on a detached stream expires (its replica may have died), if any is held. */
  nextDetachedExpiry(): Promise<number | undefined> {
    return this.store.leases.nextExpiry('detached');
  }

  /** Calls `fn` whenever a generation here ends, so room for another frees. */
  onRoomFreed(fn: () => void): void {
    this.roomFreed.add(fn);
  }

  private attachFollowing(client: StreamClient, row: StreamRow): void {
    void follow(this, client, row).catch((err: Error) => {
      this.logger.warn({ stream: row.id, err: err.message }, 'following a stream failed; client will resume');
      return client.endResumable('storage_unavailable');
    });
  }

  private track(gen: Generation): Generation {
    this.gens.set(gen.id, gen);
    this.keeper.hold(gen.lease, () => gen.leaseLost());
    void gen.settled.then((outcome) => {
      this.keeper.drop(gen.id);
      if (this.gens.get(gen.id) === gen) this.gens.delete(gen.id);
      this.metrics.total.inc({ outcome });
      this.quiet.changed();
      for (const fn of this.roomFreed) fn();
    });
    if (this.handingOff) {
      this.metrics.handoffs.inc();
      const stopped = gen.stop('handoff');
      this.lateHandoffs.add(stopped);
      void stopped.finally(() => this.lateHandoffs.delete(stopped));
    }
    return gen;
  }

  private clientFor(
    to: StreamTarget | undefined,
    stream: { id: string; format: FrontDoor; request: StreamRequest; createdAt: Date },
    position: number | undefined,
  ): StreamClient | undefined {
    if (!to) return undefined;
    if ('res' in to) {
      for (const [k, v] of Object.entries(to.headers?.(stream.id) ?? {})) to.res.setHeader(k, v);
      return this.openSink(to.res, stream, this.opts.formats[stream.format].renderer(stream, position));
    }
    return this.counted(new Collector(stream.id, to.collect));
  }

  private openSink(res: Response, stream: { id: string }, renderer: Renderer): SseSink {
    const sink = new SseSink(res, stream.id, renderer);
    this.counted(sink);
    sink.open();
    return sink;
  }

  /** Every client connection counts against the cap and keeps the drain waiting until it ends. */
  private counted<C extends StreamClient>(client: C): C {
    this.clients.add(client);
    this.metrics.clients.set(this.clients.size);
    client.onClose(() => {
      this.clients.delete(client);
      this.metrics.clients.set(this.clients.size);
      this.quiet.changed();
    });
    return client;
  }

  whenQuiet(signal: AbortSignal): Promise<void> {
    return this.quiet.wait(signal);
  }

  counts(): { generating: number; clients: number } {
    return { generating: this.gens.size, clients: this.clients.size };
  }

  /**
   * At handoff, each generation stops its upstream, flushes and releases its lease, then every
   * client still connected gets a resumable end at the last event it was sent.
   */
  async handoff(deadline: Deadline): Promise<{ handedOff: number; clientsEnded: number }> {
    this.handingOff = true;
    const gens = [...this.gens.values()].filter((g) => g.accepting);
    this.metrics.handoffs.inc(gens.length);
    const margin = new AbortController();
    const timer = setTimeout(() => margin.abort(), Math.max(0, deadline.remainingMs() - HANDOFF_MARGIN_MS));
    const stopped = Promise.all(gens.map((g) => g.stop('handoff'))).then(async () => {
      while (this.lateHandoffs.size > 0) await Promise.all([...this.lateHandoffs]);
    });
    await Promise.race([stopped, untilAborted(margin.signal)]);
    clearTimeout(timer);
    this.closed = true;
    this.writer.stop();
    this.keeper.stop();
    // Clients of streams generated elsewhere, and slow ones still catching up, resume too.
    const rest = [...this.clients];
    await Promise.race([Promise.all(rest.map((s) => s.endResumable('server_shutdown'))), untilAborted(deadline.signal)]);
    return { handedOff: gens.length, clientsEnded: rest.length };
  }
}

export interface Started {
  readonly id: string;
  /** An idempotent retry: the stream an earlier request started. */
  readonly joined: boolean;
  /** For a collecting start: the whole answer once the stream is over (or handed off). */
  readonly collected?: Promise<Collected>;
}
