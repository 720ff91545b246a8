import type { Response } from 'express';
import type { Database } from '../db/database.js';
import type { DrainState } from '../drain/types.js';
import { conflict, notFound } from '../errors/errors.js';
import type { Owner } from '../http/auth.js';
import { requestSignal } from '../http/request-signal.js';
import { LeaseKeeper } from '../leases/keeper.js';
import type { Llm } from '../llm/llm.js';
import type { Logger } from '../log/logger.js';
import type { HttpMetrics } from '../metrics/http.js';
import type { StreamMetrics } from './metrics.js';
import { untilAborted, type Deadline } from '../time/clock.js';
import { Quiescence } from '../time/quiescence.js';
import { Admission } from './admission.js';
import { follow, type FollowContext } from './follow.js';
import { Generation, type GenerationDeps } from './generation.js';
import type { ChatRequest } from './protocol.js';
import { SseSink } from './sink.js';
import { StreamStore, type StreamRow } from './store.js';
import { BatchWriter } from './writer.js';

export interface StreamManagerOptions {
  readonly db: Database;
  readonly llm: Llm;
  readonly logger: Logger;
  readonly metrics: StreamMetrics;
  readonly httpMetrics: HttpMetrics;
  readonly drain: DrainState;
  readonly replica: string;
  readonly leaseSeconds: number;
  readonly maxConcurrent: number;
  /** Streams one key may have generating at once, across replicas. */
  readonly perKeyMax: number;
}

/** Kept back from the handoff deadline so every client gets its `end` before the engine moves on. */
const HANDOFF_MARGIN_MS = 150;

/**
 * The streams of this replica: generations it owns under a lease (kept by one heartbeat, written
 * by one batch writer), clients following streams generated elsewhere (follow.ts), the caps
 * (admission.ts), and the handoff.
 */
export class StreamManager implements FollowContext {
  readonly store: StreamStore;
  readonly admission: Admission;
  readonly drain: DrainState;
  readonly logger: Logger;
  readonly metrics: StreamMetrics;
  /** Set at handoff: from then on nothing here queries the database. */
  closed = false;
  private readonly gens = new Map<string, Generation>();
  private readonly sinks = new Set<SseSink>();
  private readonly quiet = new Quiescence(() => this.gens.size === 0 && this.sinks.size === 0);
  private readonly writer: BatchWriter;
  private readonly keeper: LeaseKeeper;
  private readonly genDeps: GenerationDeps;

  constructor(opts: StreamManagerOptions) {
    this.drain = opts.drain;
    this.logger = opts.logger;
    this.metrics = opts.metrics;
    this.store = new StreamStore(opts.db, opts.replica, opts.leaseSeconds, opts.perKeyMax);
    this.admission = new Admission({
      maxConcurrent: opts.maxConcurrent,
      generating: () => this.gens.size,
      clients: () => this.sinks.size,
      rejected: (reason) => opts.httpMetrics.rejected.inc({ reason }),
    });
    this.writer = new BatchWriter(this.store, opts.logger, () => this.gens.values());
    this.keeper = new LeaseKeeper(this.store.leases, opts.logger);
    this.genDeps = {
      llm: opts.llm,
      store: this.store,
      metrics: opts.metrics,
      logger: opts.logger,
      flush: () => this.writer.flush(),
      batchReady: () => void this.writer.flush(),
    };
  }

  /** POST /v1/chat/stream: a new stream generated here, sent to `res`. */
  async start(owner: Owner, request: ChatRequest, res: Response, id: string): Promise<void> {
    this.admission.checkClientRoom();
    this.admission.checkGenerationRoom();
    const lease = await this.admission.reserve(() => this.store.create(id, owner, request));
    if (requestSignal(res).aborted) {
      // The client left while the row was written: generate nothing; a later GET may still resume
      // it. A release that fails leaves the lease to expire after its TTL, as after a crash.
      await this.store.leases.release(lease).catch(() => undefined);
      this.metrics.total.inc({ outcome: 'client_aborted' });
      return;
    }
    const gen = this.track(new Generation(lease, owner, request, 0, '', this.genDeps));
    gen.attach(this.openSink(res, lease.id, 0));
  }

  /** GET /v1/streams/:id: replays what the client missed, then follows the stream wherever it is generated. */
  async join(owner: Owner, id: string, after: number, res: Response): Promise<void> {
    this.admission.checkClientRoom();
    const local = this.gens.get(id);
    if (local?.accepting) {
      if (local.owner !== owner) throw notFound('stream');
      this.metrics.resumes.inc();
      return local.attach(this.openSink(res, id, after));
    }
    const row = await this.store.get(id);
    if (requestSignal(res).aborted) return;
    // Another owner's stream looks exactly like a missing one.
    if (!row || row.owner !== owner) throw notFound('stream');
    if (row.status !== 'generating' && after > row.lastSeq + 1) {
      throw conflict('ahead_of_log', `Last-Event-ID ${after} is beyond this finished stream's last event ${row.lastSeq + 1}`);
    }
    this.metrics.resumes.inc();
    const sink = this.openSink(res, id, after);
    void follow(this, sink, row).catch((err: Error) => {
      this.logger.warn({ stream: id, err: err.message }, 'following a stream failed; client will resume');
      return sink.endResumable('storage_unavailable');
    });
  }

  local(id: string): Generation | undefined {
    return this.gens.get(id);
  }

  adopt(row: StreamRow, prefix: string): Generation {
    return this.track(
      new Generation({ id: row.id, epoch: row.epoch }, row.owner, row.request, row.lastSeq, prefix, this.genDeps),
    );
  }

  private track(gen: Generation): Generation {
    this.gens.set(gen.id, gen);
    this.keeper.hold(gen.lease, () => gen.leaseLost());
    void gen.settled.then((outcome) => {
      this.keeper.drop(gen.id);
      if (this.gens.get(gen.id) === gen) this.gens.delete(gen.id);
      this.metrics.total.inc({ outcome });
      this.quiet.changed();
    });
    return gen;
  }

  private openSink(res: Response, id: string, cursor: number): SseSink {
    const sink = new SseSink(res, id, cursor);
    this.sinks.add(sink);
    this.metrics.clients.set(this.sinks.size);
    sink.onClose(() => {
      this.sinks.delete(sink);
      this.metrics.clients.set(this.sinks.size);
      this.quiet.changed();
    });
    sink.open();
    return sink;
  }

  whenQuiet(signal: AbortSignal): Promise<void> {
    return this.quiet.wait(signal);
  }

  counts(): { generating: number; clients: number } {
    return { generating: this.gens.size, clients: this.sinks.size };
  }

  /**
   * At handoff, each generation stops its upstream, flushes and releases its lease, then every
   * client still connected gets a resumable `end` at the last event it was sent.
   */
  async handoff(deadline: Deadline): Promise<{ handedOff: number; clientsEnded: number }> {
    const gens = [...this.gens.values()].filter((g) => g.accepting);
    this.metrics.handoffs.inc(gens.length);
    const margin = new AbortController();
    const timer = setTimeout(() => margin.abort(), Math.max(0, deadline.remainingMs() - HANDOFF_MARGIN_MS));
    await Promise.race([Promise.all(gens.map((g) => g.stop('handoff'))), untilAborted(margin.signal)]);
    clearTimeout(timer);
    this.closed = true;
    this.writer.stop();
    this.keeper.stop();
    // Clients of streams generated elsewhere, and slow ones still catching up, resume too.
    const rest = [...this.sinks];
    await Promise.race([Promise.all(rest.map((s) => s.endResumable('server_shutdown'))), untilAborted(deadline.signal)]);
    return { handedOff: gens.length, clientsEnded: rest.length };
  }
}
