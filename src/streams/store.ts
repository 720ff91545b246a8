import type { Database } from '../db/database.js';
import type { Owner } from '../http/auth.js';
import { QUOTA_LOCKS, withinQuota, type Quota } from '../db/quota.js';
import { LeaseTable, type ClaimVia, type Lease } from '../leases/table.js';
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

export type { Lease };

export interface PendingBatch extends Lease {
  readonly chunks: readonly Chunk[];
}

const ROW = `id, owner, request, status, epoch, last_seq, finish, ${LeaseTable.FREE} AS claimable`;

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
  readonly leases: LeaseTable;

  private readonly quota: Quota;

  constructor(
    private readonly db: Database,
    private readonly replica: string,
    private readonly leaseSeconds: number,
    perKeyMax: number,
  ) {
    this.leases = new LeaseTable(db, { table: 'streams', activeStatus: 'generating' }, replica, leaseSeconds);
    // Only streams a replica is generating count: one a client left (released, still resumable) does not.
    this.quota = {
      lock: QUOTA_LOCKS.streams,
      what: 'streams generating',
      max: perKeyMax,
      retryAfterSeconds: 1,
      count: async (c, owner) =>
        (
          await c.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM streams
             WHERE owner = $1 AND status = 'generating' AND lease_holder IS NOT NULL AND lease_expires_at >= now()`,
            [owner],
          )
        ).rows[0]!.n,
    };
  }

  /** A new stream, leased to this replica, within the owner's quota of streams generating now. */
  async create(id: string, owner: Owner, request: ChatRequest): Promise<Lease> {
    await withinQuota(this.db, this.quota, owner, 1, (c) =>
      c.query(
        `INSERT INTO streams (id, owner, request, status, lease_holder, lease_expires_at, epoch, claimed_at)
         VALUES ($1, $2, $3, 'generating', $4, ${LeaseTable.expiry(5)}, 1, now())`,
        [id, owner, JSON.stringify(request), this.replica, this.leaseSeconds],
      ),
    );
    return { id, epoch: 1 };
  }

  async get(id: string): Promise<StreamRow | undefined> {
    const { rows } = await this.db.query<RawRow>(`SELECT ${ROW} FROM streams WHERE id = $1`, [id]);
    return rows[0] && toRow(rows[0]);
  }

  /** Takes over a stream whose lease is free or expired; bumps the epoch that fences the old owner. */
  async claim(id: string): Promise<(StreamRow & { readonly via: ClaimVia | undefined }) | undefined> {
    const { rows } = await this.db.query<RawRow & { prev_released_by: string | null; prev_holder: string | null }>(
      `WITH prev AS (
         SELECT id AS prev_id, released_by AS prev_released_by, lease_holder AS prev_holder FROM streams
         WHERE id = $1 AND status = 'generating' AND ${LeaseTable.FREE} FOR UPDATE
       )
       UPDATE streams SET ${LeaseTable.take(2, 3)}
       FROM prev WHERE id = prev.prev_id
       RETURNING ${ROW}, prev_released_by, prev_holder`,
      [id, this.replica, this.leaseSeconds],
    );
    const r = rows[0];
    return r && { ...toRow(r), via: LeaseTable.via({ releasedBy: r.prev_released_by, holder: r.prev_holder }) };
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
       locked AS MATERIALIZED (${this.leases.lockedInOrder('b')}),
       ok AS (
         UPDATE streams s SET last_seq = m.max_seq, updated_at = now()
         FROM (SELECT id, epoch, max(seq) AS max_seq FROM b GROUP BY id, epoch) m JOIN locked ON locked.id = m.id
         WHERE s.id = m.id AND ${this.leases.batchFence('s', 'm.epoch', 5)}
         RETURNING s.id),
       ins AS (INSERT INTO stream_chunks (stream_id, seq, text)
         SELECT b.id, b.seq, b.text FROM b JOIN ok ON ok.id = b.id)
       SELECT id FROM ok`,
      [ids, epochs, seqs, texts, this.replica],
    );
    const written = new Set(rows.map((r) => r.id));
    return new Set(batches.map((b) => b.id).filter((id) => !written.has(id)));
  }

  async finish(lease: Lease, lastSeq: number, outcome: Outcome): Promise<boolean> {
    const status = 'error' in outcome ? 'failed' : 'completed';
    const r = await this.db.query(
      `UPDATE streams SET status = $4, finish = $5, lease_holder = NULL, lease_expires_at = NULL, updated_at = now()
       WHERE ${this.leases.fence(1, 2, 3)} AND last_seq = $6`,
      [lease.id, lease.epoch, this.replica, status, JSON.stringify(outcome), lastSeq],
    );
    return r.rowCount === 1;
  }
}
