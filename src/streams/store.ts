import type { Database } from '../db/database.js';
import type { Owner } from '../http/auth.js';
import type { ChatRequest, Outcome } from './protocol.js';

export interface StreamRow {
  readonly id: string;
  readonly owner: Owner;
  readonly request: ChatRequest;
  readonly status: 'generating' | 'completed' | 'failed';
  readonly epoch: number;
  readonly lastSeq: number;
  readonly finish: Outcome | null;
  /** Nobody holds the lease (released at handoff or abort) or it expired (owner died). */
  readonly claimable: boolean;
}

export interface Chunk {
  readonly seq: number;
  readonly text: string;
}

/** A generation's write, fenced by the epoch it claimed. */
export interface Lease {
  readonly id: string;
  readonly epoch: number;
}

export interface PendingBatch extends Lease {
  readonly chunks: readonly Chunk[];
}

const ROW = `id, owner, request, status, epoch, last_seq, finish,
  (lease_holder IS NULL OR lease_expires_at < now()) AS claimable`;

interface RawRow {
  id: string;
  owner: string;
  request: ChatRequest;
  status: StreamRow['status'];
  epoch: number;
  last_seq: number;
  finish: Outcome | null;
  claimable: boolean;
}
const toRow = (r: RawRow): StreamRow => ({
  id: r.id,
  owner: r.owner,
  request: r.request,
  status: r.status,
  epoch: r.epoch,
  lastSeq: r.last_seq,
  finish: r.finish,
  claimable: r.claimable,
});

/**
 * The durable stream log. Every write by a generation names the epoch it claimed and this
 * replica as lease holder, so a replica that lost its lease (paused past the TTL, then woke up)
 * cannot write: the database, not local state, decides who owns a stream.
 */
export class StreamStore {
  constructor(
    private readonly db: Database,
    private readonly replica: string,
    private readonly leaseSeconds: number,
  ) {}

  async create(id: string, owner: Owner, request: ChatRequest): Promise<Lease> {
    await this.db.query(
      `INSERT INTO streams (id, owner, request, status, lease_holder, lease_expires_at, epoch)
       VALUES ($1, $2, $3, 'generating', $4, now() + make_interval(secs => $5), 1)`,
      [id, owner, JSON.stringify(request), this.replica, this.leaseSeconds],
    );
    return { id, epoch: 1 };
  }

  async get(id: string): Promise<StreamRow | undefined> {
    const { rows } = await this.db.query<RawRow>(`SELECT ${ROW} FROM streams WHERE id = $1`, [id]);
    return rows[0] && toRow(rows[0]);
  }

  /** Takes over a stream whose lease is free or expired; bumps the epoch that fences the old owner. */
  async claim(id: string): Promise<StreamRow | undefined> {
    const { rows } = await this.db.query<RawRow>(
      `UPDATE streams SET lease_holder = $2, lease_expires_at = now() + make_interval(secs => $3),
         epoch = epoch + 1, updated_at = now()
       WHERE id = $1 AND status = 'generating' AND (lease_holder IS NULL OR lease_expires_at < now())
       RETURNING ${ROW}`,
      [id, this.replica, this.leaseSeconds],
    );
    return rows[0] && toRow(rows[0]);
  }

  async chunks(id: string, afterSeq: number, limit: number): Promise<Chunk[]> {
    const { rows } = await this.db.query<Chunk>(
      'SELECT seq, text FROM stream_chunks WHERE stream_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
      [id, afterSeq, limit],
    );
    return rows;
  }

  /** The persisted text up to `lastSeq`, to send back to the upstream as the assistant's prefix. */
  async prefix(id: string, lastSeq: number): Promise<string> {
    const { rows } = await this.db.query<{ n: number; text: string | null }>(
      `SELECT count(*)::int AS n, string_agg(text, '' ORDER BY seq) AS text
       FROM stream_chunks WHERE stream_id = $1 AND seq <= $2`,
      [id, lastSeq],
    );
    const n = rows[0]?.n ?? 0;
    if (n !== lastSeq) throw new Error(`stream ${id}: log has ${n} chunks, expected ${lastSeq}`);
    return rows[0]?.text ?? '';
  }

  /**
   * Appends several streams' chunks in one statement. Returns the ids whose write was refused
   * because their lease is no longer ours at that epoch.
   */
  async append(batches: readonly PendingBatch[]): Promise<Set<string>> {
    const ids: string[] = [];
    const epochs: number[] = [];
    const seqs: number[] = [];
    const texts: string[] = [];
    for (const b of batches) {
      for (const c of b.chunks) {
        ids.push(b.id);
        epochs.push(b.epoch);
        seqs.push(c.seq);
        texts.push(c.text);
      }
    }
    const { rows } = await this.db.query<{ id: string }>(
      `WITH b AS (SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::text[]) AS b(id, epoch, seq, text)),
       ok AS (
         UPDATE streams s SET last_seq = m.max_seq, updated_at = now()
         FROM (SELECT id, epoch, max(seq) AS max_seq FROM b GROUP BY id, epoch) m
         WHERE s.id = m.id AND s.epoch = m.epoch AND s.lease_holder = $5 AND s.status = 'generating'
         RETURNING s.id),
       ins AS (INSERT INTO stream_chunks (stream_id, seq, text)
         SELECT b.id, b.seq, b.text FROM b JOIN ok ON ok.id = b.id)
       SELECT id FROM ok`,
      [ids, epochs, seqs, texts, this.replica],
    );
    const written = new Set(rows.map((r) => r.id));
    return new Set(batches.map((b) => b.id).filter((id) => !written.has(id)));
  }

  /** Extends the leases of every stream generating here; returns the ids no longer ours. */
  async heartbeat(leases: readonly Lease[]): Promise<Set<string>> {
    const { rows } = await this.db.query<{ id: string }>(
      `UPDATE streams s SET lease_expires_at = now() + make_interval(secs => $3)
       FROM unnest($1::text[], $2::int[]) AS h(id, epoch)
       WHERE s.id = h.id AND s.epoch = h.epoch AND s.lease_holder = $4 AND s.status = 'generating'
       RETURNING s.id`,
      [leases.map((l) => l.id), leases.map((l) => l.epoch), this.leaseSeconds, this.replica],
    );
    const kept = new Set(rows.map((r) => r.id));
    return new Set(leases.map((l) => l.id).filter((id) => !kept.has(id)));
  }

  /** Lets any replica continue the stream: status stays `generating`. */
  async release(lease: Lease): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE streams SET lease_holder = NULL, lease_expires_at = NULL, updated_at = now()
       WHERE id = $1 AND epoch = $2 AND lease_holder = $3 AND status = 'generating'`,
      [lease.id, lease.epoch, this.replica],
    );
    return r.rowCount === 1;
  }

  async finish(lease: Lease, lastSeq: number, outcome: Outcome): Promise<boolean> {
    const status = 'error' in outcome ? 'failed' : 'completed';
    const r = await this.db.query(
      `UPDATE streams SET status = $4, finish = $5, lease_holder = NULL, lease_expires_at = NULL, updated_at = now()
       WHERE id = $1 AND epoch = $2 AND lease_holder = $3 AND status = 'generating' AND last_seq = $6`,
      [lease.id, lease.epoch, this.replica, status, JSON.stringify(outcome), lastSeq],
    );
    return r.rowCount === 1;
  }
}
