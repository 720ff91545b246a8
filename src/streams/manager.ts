import type { Response } from 'express';
import type { Database } from '../db/database.js';
import { sleep, systemClock, untilAborted, type Deadline } from '../time/clock.js';
import { Quiescence } from '../time/quiescence.js';
import type { DrainState } from '../drain/types.js';
import { conflict, notFound, tooManyRequests } from '../errors/errors.js';
import type { Owner } from '../http/auth.js';
import { requestSignal } from '../http/request-signal.js';
import type { Llm } from '../llm/llm.js';
import type { Logger } from '../log/logger.js';
import type { HttpMetrics } from '../metrics/http.js';
import type { StreamMetrics } from '../metrics/streams.js';
import { Generation, type GenerationDeps } from './generation.js';
import { newStreamId, type ChatRequest } from './protocol.js';
import { SseSink } from './sink.js';
import { StreamStore, type PendingBatch, type StreamRow } from './store.js';

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
}

/** Chunks are written at most this long after they were sent (or sooner, at 32 per stream). */
const FLUSH_INTERVAL_MS = 50;
/** How often a replica following another's generation reads the log. */
const POLL_MS = 75;
const PAGE = 512;
/** Client connections per allowed generation (see checkClientRoom). */
const MAX_CLIENTS_PER_GENERATION = 2;
/** Kept back from the handoff deadline so every client gets its `end` before the engine moves on. */
const HANDOFF_MARGIN_MS = 150;

/**
 * The streams of this replica: generations it owns (under a lease), clients following streams
 * owned elsewhere, one batch writer for all generations, one lease heartbeat for all, and the
 * stream's part in the shutdown sequence.
 */
export class StreamManager {
  private readonly store: StreamStore;
  private readonly gens = new Map<string, Generation>();
  private readonly sinks = new Set<SseSink>();
  /** Slots taken by streams being created or claimed (awaiting the database). */
  private reserved = 0;
  /** Set at handoff: from then on nothing here queries the database. */
  private closed = false;
  private writing: Promise<void> | undefined;
  private nextWrite: Promise<void> | undefined;
  private readonly quiet = new Quiescence(() => this.gens.size === 0 && this.sinks.size === 0);
  private readonly timers: NodeJS.Timeout[];
  private readonly genDeps: GenerationDeps;

  constructor(private readonly opts: StreamManagerOptions) {
    this.store = new StreamStore(opts.db, opts.replica, opts.leaseSeconds);
    this.genDeps = {
      llm: opts.llm,
      store: this.store,
      metrics: opts.metrics,
      logger: opts.logger,
      flush: () => this.flush(),
      batchReady: () => void this.flush(),
    };
    this.timers = [
      setInterval(() => {
        if (this.hasPending()) void this.flush();
      }, FLUSH_INTERVAL_MS),
      setInterval(() => void this.heartbeat(), (opts.leaseSeconds * 1000) / 3),
    ];
    for (const t of this.timers) t.unref();
  }

  /** POST /v1/chat/stream: a new stream generated here, sent to `res`. */
  async start(owner: Owner, request: ChatRequest, res: Response): Promise<void> {
    this.checkClientRoom();
    if (!this.hasCapacity()) {
      this.opts.httpMetrics.rejected.inc({ reason: 'too_many_streams' });
      throw tooManyRequests(`this replica is generating ${this.opts.maxConcurrent} streams (MAX_CONCURRENT_STREAMS)`, 1);
    }
    this.reserved++;
    let lease;
    try {
      lease = await this.store.create(newStreamId(), owner, request);
    } finally {
      this.reserved--;
    }
    if (requestSignal(res).aborted) {
      // The client left while the row was written: generate nothing; a later GET may still resume it.
      // A release that fails leaves the lease to expire after its TTL, as after a crash.
      await this.store.release(lease).catch(() => undefined);
      this.opts.metrics.total.inc({ outcome: 'client_aborted' });
      return;
    }
    const gen = this.track(new Generation(lease, owner, request, 0, '', this.genDeps));
    gen.attach(this.openSink(res, lease.id, 0));
  }

  /** GET /v1/streams/:id: replays what the client missed, then follows the stream wherever it is generated. */
  async join(owner: Owner, id: string, after: number, res: Response): Promise<void> {
    this.checkClientRoom();
    const local = this.gens.get(id);
    if (local?.accepting) {
      if (local.owner !== owner) throw notFound('stream');
      this.opts.metrics.resumes.inc();
      return local.attach(this.openSink(res, id, after));
    }
    const row = await this.store.get(id);
    if (requestSignal(res).aborted) return;
    // Another owner's stream looks exactly like a missing one.
    if (!row || row.owner !== owner) throw notFound('stream');
    if (row.status !== 'generating' && after > row.lastSeq + 1) {
      throw conflict('ahead_of_log', `Last-Event-ID ${after} is beyond this finished stream's last event ${row.lastSeq + 1}`);
    }
    this.opts.metrics.resumes.inc();
    const sink = this.openSink(res, id, after);
    void this.follow(sink, row).catch((err: Error) => {
      this.opts.logger.warn({ stream: id, err: err.message }, 'following a stream failed; client will resume');
      return sink.endResumable('storage_unavailable');
    });
  }

  /**
   * Copies the log to a client while another replica generates, and takes the generation over
   * once nobody holds its lease (released at handoff or by an abort, or expired after a crash).
   */
  private async follow(sink: SseSink, first: StreamRow): Promise<void> {
    let row: StreamRow | undefined = first;
    for (;;) {
      const local = this.gens.get(sink.streamId);
      if (local?.accepting) return local.attach(sink);
      if (local) await local.settled; // stopping here: its lease is released before we look again
      if (sink.closed) return;
      if (this.closed) return void sink.endResumable('server_shutdown');
      row ??= await this.store.get(sink.streamId);
      if (!row) throw new Error('stream row vanished');
      if (row.status === 'generating' && row.claimable && !this.opts.drain.draining && this.hasCapacity()) {
        const gen = await this.takeOver(row.id);
        if (gen) return gen.attach(sink);
        row = undefined;
        continue;
      }
      while (sink.cursor < row.lastSeq && !sink.closed && !this.closed) {
        const chunks = await this.store.chunks(row.id, sink.cursor, PAGE);
        if (chunks[0]?.seq !== sink.cursor + 1) throw new Error(`log has no chunk ${sink.cursor + 1}`);
        for (const c of chunks) sink.token(c.seq, c.text);
        if (!sink.writable && !sink.closed) await new Promise<void>((resolve) => sink.onDrain(resolve));
      }
      if (sink.closed) return;
      if (row.status !== 'generating' && row.finish && sink.cursor >= row.lastSeq) {
        // Ahead by more than the final event: the log was regenerated differently (non-deterministic upstream).
        if (sink.cursor > row.lastSeq + 1) {
          return sink.finish(row.lastSeq, { error: { code: 'ahead_of_log', message: `the stream ended at ${row.lastSeq}, before Last-Event-ID ${sink.cursor}` } });
        }
        return sink.finish(row.lastSeq, row.finish);
      }
      row = undefined;
      await this.pause(sink);
    }
  }

  private pause(sink: SseSink): Promise<void> {
    const closed = new AbortController();
    const off = sink.onClose(() => closed.abort());
    return sleep(systemClock, POLL_MS, closed.signal).finally(off);
  }

  private async takeOver(id: string): Promise<Generation | undefined> {
    this.reserved++;
    try {
      const row = await this.store.claim(id);
      if (!row) return undefined;
      let prefix: string;
      try {
        prefix = await this.store.prefix(id, row.lastSeq);
      } catch (err) {
        await this.store.release({ id, epoch: row.epoch });
        throw err;
      }
      this.opts.logger.info({ stream: id, epoch: row.epoch, fromSeq: row.lastSeq }, 'took over a stream generation');
      return this.track(new Generation({ id, epoch: row.epoch }, row.owner, row.request, row.lastSeq, prefix, this.genDeps));
    } finally {
      this.reserved--;
    }
  }

  private track(gen: Generation): Generation {
    this.gens.set(gen.id, gen);
    void gen.settled.then((outcome) => {
      if (this.gens.get(gen.id) === gen) this.gens.delete(gen.id);
      this.opts.metrics.total.inc({ outcome });
      this.quiet.changed();
    });
    return gen;
  }

  private openSink(res: Response, id: string, cursor: number): SseSink {
    const sink = new SseSink(res, id, cursor);
    this.sinks.add(sink);
    this.opts.metrics.clients.set(this.sinks.size);
    sink.onClose(() => {
      this.sinks.delete(sink);
      this.opts.metrics.clients.set(this.sinks.size);
      this.quiet.changed();
    });
    sink.open();
    return sink;
  }

  /**
   * Every client connection holds a socket, its buffers and, while it follows another replica,
   * a poller; generations are capped, and so are these, at twice as many (room for the clients
   * that reconnect here from a draining replica before their streams are taken over).
   */
  private checkClientRoom(): void {
    const max = MAX_CLIENTS_PER_GENERATION * this.opts.maxConcurrent;
    if (this.sinks.size < max) return;
    this.opts.httpMetrics.rejected.inc({ reason: 'too_many_stream_clients' });
    throw tooManyRequests(`this replica is sending ${max} streams to clients (${MAX_CLIENTS_PER_GENERATION} × MAX_CONCURRENT_STREAMS)`, 1);
  }

  private hasCapacity(): boolean {
    return this.gens.size + this.reserved < this.opts.maxConcurrent;
  }

  private hasPending(): boolean {
    for (const g of this.gens.values()) if (g.pending.length > 0) return true;
    return false;
  }

  /**
   * Persists every generation's pending chunks in one statement. One write runs at a time; a
   * caller arriving during a write gets the next one, which includes its chunks.
   */
  private flush(): Promise<void> {
    if (!this.writing) {
      this.writing = this.writeBatch().finally(() => {
        this.writing = undefined;
      });
      return this.writing;
    }
    this.nextWrite ??= this.writing.then(() => {
      this.nextWrite = undefined;
      return this.flush();
    });
    return this.nextWrite;
  }

  private async writeBatch(): Promise<void> {
    const batches: (PendingBatch & { gen: Generation })[] = [];
    for (const gen of this.gens.values()) {
      if (gen.pending.length === 0) continue;
      batches.push({ id: gen.id, epoch: gen.lease.epoch, chunks: gen.pending, gen });
      gen.pending = [];
    }
    if (batches.length === 0) return;
    try {
      const fenced = await this.store.append(batches);
      for (const b of batches) {
        if (fenced.has(b.id)) b.gen.leaseLost();
        else b.gen.markPersisted(b.chunks.at(-1)!.seq);
      }
    } catch (err) {
      // Put the chunks back in order; the next tick retries them.
      for (const b of batches) b.gen.pending = [...b.chunks, ...b.gen.pending];
      this.opts.logger.warn({ err: (err as Error).message, streams: batches.length }, 'stream chunk write failed; will retry');
    }
  }

  private async heartbeat(): Promise<void> {
    const leases = [...this.gens.values()].filter((g) => g.accepting).map((g) => g.lease);
    if (this.closed || leases.length === 0) return;
    try {
      const lost = await this.store.heartbeat(leases);
      for (const id of lost) this.gens.get(id)?.leaseLost();
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'stream lease heartbeat failed');
    }
  }

  /**
   * At handoff, each generation stops its upstream, flushes and releases its lease, then every
   * client still connected gets a resumable `end` at the last event it was sent.
   */
  async handoff(deadline: Deadline): Promise<{ handedOff: number; clientsEnded: number }> {
    const gens = [...this.gens.values()].filter((g) => g.accepting);
    this.opts.metrics.handoffs.inc(gens.length);
    const margin = new AbortController();
    const timer = setTimeout(() => margin.abort(), Math.max(0, deadline.remainingMs() - HANDOFF_MARGIN_MS));
    await Promise.race([
      Promise.all(gens.map((g) => g.stop('handoff'))),
      untilAborted(margin.signal),
    ]);
    clearTimeout(timer);
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    // Clients of streams generated elsewhere, and slow ones still catching up, resume too.
    const rest = [...this.sinks];
    await Promise.race([Promise.all(rest.map((s) => s.endResumable('server_shutdown'))), untilAborted(deadline.signal)]);
    return { handedOff: gens.length, clientsEnded: rest.length };
  }

  whenQuiet(signal: AbortSignal): Promise<void> {
    return this.quiet.wait(signal);
  }

  counts(): { generating: number; clients: number } {
    return { generating: this.gens.size, clients: this.sinks.size };
  }
}
