import { tooManyRequests } from '../errors/errors.js';
import type { RejectReason } from '../metrics/http.js';

/** Client connections per allowed generation (see checkClientRoom). */
const MAX_CLIENTS_PER_GENERATION = 2;

/**
 * The caps of one replica's streams: generations at once (each holds an upstream connection and
 * a lease) and client connections (each holds a socket, its buffers and, while it follows another
 * replica, a poller).
 */
export class Admission {
  /** Slots taken by streams being created or claimed (awaiting the database). */
  private reserved = 0;

  constructor(
    private readonly opts: {
      readonly maxConcurrent: number;
      readonly generating: () => number;
      readonly clients: () => number;
      readonly rejected: (reason: RejectReason) => void;
    },
  ) {}

  /**
   * Client connections are capped at twice the generations: room for the clients that reconnect
   * here from a draining replica before their streams are taken over.
   */
  checkClientRoom(): void {
    const max = MAX_CLIENTS_PER_GENERATION * this.opts.maxConcurrent;
    if (this.opts.clients() < max) return;
    this.opts.rejected('too_many_stream_clients');
    throw tooManyRequests(
      `this replica is sending ${max} streams to clients (${MAX_CLIENTS_PER_GENERATION} × MAX_CONCURRENT_STREAMS)`,
      1,
    );
  }

  checkGenerationRoom(): void {
    if (this.hasRoom()) return;
    this.opts.rejected('too_many_streams');
    throw tooManyRequests(`this replica is generating ${this.opts.maxConcurrent} streams (MAX_CONCURRENT_STREAMS)`, 1);
  }

  hasRoom(): boolean {
    return this.opts.generating() + this.reserved < this.opts.maxConcurrent;
  }

  /** Holds a generation slot while `work` (a create or a claim) awaits the database. */
  async reserve<T>(work: () => Promise<T>): Promise<T> {
    this.reserved++;
    try {
      return await work();
    } finally {
      this.reserved--;
    }
  }
}
