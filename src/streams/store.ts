import type { Database, Queryable } from '../db/database.js';
import { QUOTA_LOCKS, withinQuota, type Quota } from '../db/quota.js';
import type { Owner } from '../http/auth.js';
import { LeaseTable, type ClaimVia, type Lease } from '../leases/table.js';
import type { LogEntry, UpstreamCursor } from '../llm/upstream.js';
import type { Logger } from '../log/logger.js';
import type { Entry, FrontDoor, Outcome, StreamRequest } from './protocol.js';

export interface StreamRow {
  readonly id: string;
  readonly owner: Owner;
  readonly request: StreamRequest;
  readonly status: 'generating' | 'completed' | 'failed' | 'cancelled';
  readonly epoch: number;
  readonly lastSeq: number;
  readonly finish: Outcome | null;
  /** Nobody holds the lease (released at handoff or abort) or it expired (owner died). */
  readonly claimable: boolean;
  readonly format: FrontDoor;
  /** Generated whether or not a client is attached (a background response, an AI SDK chat). */
  readonly detached: boolean;
  readonly upstream: UpstreamCursor | null;
  readonly createdAt: Date;
  readonly trace: StreamTrace | null;
}

/** A stream's trace: its root span, and the generation span of the replica that held it last. */
export interface StreamTrace {
  readonly root?: string;
  readonly last?: string;
}

export type { Lease };

/**
 * How the log is written: a row per entry (`rows`), the same rewritten as one row once finished
 * (`compact`), or a row per stream per write, compacted once finished (`batches`).
 */
export type StreamLogFormat = 'rows' | 'compact' | 'batches';

/** A stream's start: what to generate, through which API, attached to its client or not. */
export interface NewStream {
  readonly id: string;
  readonly owner: Owner;
  readonly request: StreamRequest;
  readonly format: FrontDoor;
  readonly detached: boolean;
  readonly createdAt: Date;
  readonly trace: StreamTrace | undefined;
}

/** A generation's write: entries after its last one and, in responses mode, the upstream's cursor. */
export interface PendingBatch extends Lease {
  readonly entries: readonly Entry[];
  /** The log's last sequence number after this batch (the entries' last, or unchanged). */
  readonly lastSeq: number;
  readonly cursor: UpstreamCursor | undefined;
}

/** Earlier releases keep text in `text`; anything else goes to `data` with an empty text. */
const stored = (e: Entry): { text: string; data: string | null } =>
  e.kind === 'text' ? { text: e.text, data: null } : { text: '', data: JSON.stringify(e) };
interface StoredEntry {
  seq: number;
  text: string;
  data: (LogEntry & { seq?: number }) | null;
}
const fromStored = (r: StoredEntry): Entry => (r.data ? { ...r.data, seq: r.seq } : { kind: 'text', text: r.text, seq: r.seq });

/** How a JSON array element of a compact or batch row reads as (text, data): a string is text. */
const ELEMENT = `CASE WHEN json_typeof(e.v) = 'string' THEN e.v #>> '{}' ELSE '' END,
           CASE WHEN json_typeof(e.v) = 'string' THEN NULL ELSE e.v::jsonb END`;

/** A log entry as a JSON array element, as the compact and batch rows keep it. */
const element = (e: Entry): unknown => (e.kind === 'text' ? e.text : e);

/**
 * A stream's log as rows of (seq, text, data), wherever it is kept: per-entry rows, batch rows,
 * or the one compacted row of a finished stream. One statement reads them all, so a reader
 * racing the compaction sees one or the other, never neither. `$1` is the stream id, `$2` the
 * bound in `batches` (a condition on the batch's first_seq and last_seq, so a follower reading
 * the end of a long log expands only the batches it needs); callers add the rest.
 */
const logEntries = (batches: string) => `SELECT * FROM (
    SELECT seq, text, data FROM stream_chunks WHERE stream_id = $1
    UNION ALL
    SELECT e.i::int, ${ELEMENT}
    FROM stream_logs l CROSS JOIN LATERAL json_array_elements(l.entries) WITH ORDINALITY AS e(v, i)
    WHERE l.stream_id = $1
    UNION ALL
    SELECT b.first_seq + e.i::int - 1, ${ELEMENT}
    FROM stream_batches b CROSS JOIN LATERAL json_array_elements(b.entries) WITH ORDINALITY AS e(v, i)
    WHERE b.stream_id = $1 AND ${batches}
  ) AS log`;
const ENTRIES_AFTER = `${logEntries('b.last_seq > $2')} WHERE seq > $2 ORDER BY seq`;

/**
 * Rewrites a finished stream's per-entry or batch rows as its one compact row, atomically.
 * Nothing is lost if it never runs (a crash right after the finish): the rows stay readable.
 */
const COMPACT = `WITH log AS (
    INSERT INTO stream_logs (stream_id, entries)
    SELECT $1, json_agg(CASE WHEN data IS NULL THEN to_json(text) ELSE data::json END ORDER BY seq)
    FROM (${logEntries('true')}) AS whole
    HAVING count(*) > 0
    ON CONFLICT (stream_id) DO NOTHING
    RETURNING stream_id),
  chunks AS (DELETE FROM stream_chunks WHERE stream_id IN (SELECT stream_id FROM log))
  DELETE FROM stream_batches WHERE stream_id IN (SELECT stream_id FROM log)`;

const ROW = `id, owner, request, status, epoch, last_seq, finish, format, detached, upstream, created_at, trace,
  ${LeaseTable.FREE} AS claimable`;

interface RawRow {
  id: string;
  owner: string;
  request: StreamRequest;
  status: StreamRow['status'];
  epoch: number;
  last_seq: number;
  finish: Outcome | null;
  format: FrontDoor;
  detached: boolean;
  upstream: UpstreamCursor | null;
  created_at: Date;
  trace: StreamTrace | null;
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
  format: r.format,
  detached: r.detached,
  upstream: r.upstream,
  createdAt: r.created_at,
  trace: r.trace,
});

/** How `append` writes the log: four parallel arrays ($1–$4) unnested as `b`, and its INSERT. */
interface LogWrite {
  readonly source: string;
  readonly columns: readonly [string[], number[], string[] | number[], (string | null)[]];
  readonly insert: string;
}

/** One stream_chunks row per entry (STREAM_LOG_FORMAT rows and compact). */
function entryRows(batches: readonly PendingBatch[]): LogWrite {
  const ids: string[] = [];
  const seqs: number[] = [];
  const texts: string[] = [];
  const datas: (string | null)[] = [];
  for (const b of batches) {
    for (const entry of b.entries) {
      const { text, data } = stored(entry);
      ids.push(b.id);
      seqs.push(entry.seq);
      texts.push(text);
      datas.push(data);
    }
  }
  return {
    source: 'unnest($1::text[], $2::int[], $3::text[], $4::text[]) AS b(id, seq, text, data)',
    columns: [ids, seqs, texts, datas],
    insert: 'INSERT INTO stream_chunks (stream_id, seq, text, data) SELECT b.id, b.seq, b.text, b.data::jsonb',
  };
}

/** One stream_batches row per stream written (STREAM_LOG_FORMAT=batches). */
function batchRows(batches: readonly PendingBatch[]): LogWrite {
  const written = batches.filter((b) => b.entries.length > 0);
  return {
    source: 'unnest($1::text[], $2::int[], $3::int[], $4::text[]) AS b(id, first_seq, last_seq, entries)',
    columns: [
      written.map((b) => b.id),
      written.map((b) => b.entries[0]!.seq),
      written.map((b) => b.entries.at(-1)!.seq),
      written.map((b) => JSON.stringify(b.entries.map(element))),
    ],
    insert:
      'INSERT INTO stream_batches (stream_id, first_seq, last_seq, entries) SELECT b.id, b.first_seq, b.last_seq, b.entries::json',
  };
}

type Claimed = StreamRow & { readonly via: ClaimVia | undefined };

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
    private readonly logFormat: StreamLogFormat = 'rows',
    private readonly logger?: Logger,
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

  /**
   * A new stream, leased to this replica, within the owner's quota of streams generating now.
   * `also` runs in the same transaction (an idempotency key recorded with it).
   */
  async create(s: NewStream, also?: (c: Queryable) => Promise<void>): Promise<Lease> {
    await withinQuota(this.db, this.quota, s.owner, 1, async (c) => {
      await c.query(
        `INSERT INTO streams (id, owner, request, status, lease_holder, lease_expires_at, epoch, claimed_at, format, detached, created_at, trace)
         VALUES ($1, $2, $3, 'generating', $4, ${LeaseTable.expiry(5)}, 1, now(), $6, $7, $8, $9)`,
        [
          s.id,
          s.owner,
          JSON.stringify(s.request),
          this.replica,
          this.leaseSeconds,
          s.format,
          s.detached,
          s.createdAt,
          s.trace ? JSON.stringify(s.trace) : null,
        ],
      );
      await also?.(c);
    });
    return { id: s.id, epoch: 1 };
  }

  async get(id: string): Promise<StreamRow | undefined> {
    const { rows } = await this.db.query<RawRow>(`SELECT ${ROW} FROM streams WHERE id = $1`, [id]);
    return rows[0] && toRow(rows[0]);
  }

  /**
   * The row and the entries after `afterSeq` (at most `limit`), in one statement and so one
   * snapshot: what a follower reads each time it is woken, in one round trip instead of two.
   */
  async getWithEntries(id: string, afterSeq: number, limit: number): Promise<{ row: StreamRow; entries: Entry[] } | undefined> {
    const { rows } = await this.db.query<RawRow & { entries: StoredEntry[] | null }>(
      `SELECT ${ROW}, (
         SELECT json_agg(json_build_object('seq', seq, 'text', text, 'data', data) ORDER BY seq)
         FROM (${ENTRIES_AFTER} LIMIT $3) AS page
       ) AS entries
       FROM streams WHERE id = $1`,
      [id, afterSeq, limit],
    );
    const r = rows[0];
    return r && { row: toRow(r), entries: (r.entries ?? []).map(fromStored) };
  }

  /** Takes over a stream whose lease is free or expired; bumps the epoch that fences the old owner. */
  async claim(id: string): Promise<Claimed | undefined> {
    return this.claimWhere(`id = $1 AND status = 'generating'`, id);
  }

  /** Takes the detached stream that has waited longest for a replica (released at a handoff, or its holder died). */
  async claimDetached(): Promise<Claimed | undefined> {
    return this.claimWhere(`detached AND status = 'generating'`);
  }

  private async claimWhere(where: string, id?: string): Promise<Claimed | undefined> {
    const params = id === undefined ? [] : [id];
    const holder = params.length + 1;
    const { rows } = await this.db.query<RawRow & { prev_released_by: string | null; prev_holder: string | null }>(
      `WITH prev AS (
         SELECT id AS prev_id, released_by AS prev_released_by, lease_holder AS prev_holder FROM streams
         WHERE ${where} AND ${LeaseTable.FREE} ORDER BY updated_at FOR UPDATE SKIP LOCKED LIMIT 1
       )
       UPDATE streams SET ${LeaseTable.take(holder, holder + 1)}
       FROM prev WHERE id = prev.prev_id
       RETURNING ${ROW}, prev_released_by, prev_holder`,
      [...params, this.replica, this.leaseSeconds],
    );
    const r = rows[0];
    return r && { ...toRow(r), via: LeaseTable.via({ releasedBy: r.prev_released_by, holder: r.prev_holder }) };
  }

  /** Entries after `afterSeq`, in order, at most `limit`. */
  async entries(id: string, afterSeq: number, limit: number): Promise<Entry[]> {
    const { rows } = await this.db.query<StoredEntry>(`${ENTRIES_AFTER} LIMIT $3`, [id, afterSeq, limit]);
    return rows.map(fromStored);
  }

  /** The whole log up to `lastSeq`, which a continuation starts from; throws if any entry is missing. */
  async log(id: string, lastSeq: number): Promise<Entry[]> {
    const { rows } = await this.db.query<StoredEntry>(`${logEntries('b.first_seq <= $2')} WHERE seq <= $2 ORDER BY seq`, [
      id,
      lastSeq,
    ]);
    if (rows.length !== lastSeq) throw new Error(`stream ${id}: log has ${rows.length} entries, expected ${lastSeq}`);
    return rows.map(fromStored);
  }

  /**
   * Appends several streams' entries (and upstream cursors) in one statement. Returns the ids
   * whose write was refused because their lease is no longer ours at that epoch. A write that
   * lands also extends the lease: the heartbeat skips rows this statement holds locked, and a
   * stream written to in every beat would otherwise never be extended and expire mid-answer.
   */
  async append(batches: readonly PendingBatch[]): Promise<Set<string>> {
    const log = this.logFormat === 'batches' ? batchRows(batches) : entryRows(batches);
    const { rows } = await this.db.query<{ id: string }>(
      `WITH b AS (SELECT * FROM ${log.source}),
       g AS (SELECT * FROM unnest($5::text[], $6::int[], $7::int[], $8::text[]) AS g(id, epoch, last_seq, upstream)),
       locked AS MATERIALIZED (${this.leases.lockedInOrder('g')}),
       ok AS (
         UPDATE streams s SET last_seq = g.last_seq, upstream = coalesce(g.upstream::jsonb, s.upstream), updated_at = now(),
           lease_expires_at = ${LeaseTable.expiry(10)}
         FROM g JOIN locked ON locked.id = g.id
         WHERE s.id = g.id AND ${this.leases.batchFence('s', 'g.epoch', 9)}
         RETURNING s.id),
       ins AS (${log.insert} FROM b JOIN ok ON ok.id = b.id)
       SELECT id FROM ok`,
      [
        ...log.columns,
        batches.map((b) => b.id),
        batches.map((b) => b.epoch),
        batches.map((b) => b.lastSeq),
        batches.map((b) => (b.cursor ? JSON.stringify(b.cursor) : null)),
        this.replica,
        this.leaseSeconds,
      ],
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
    if (r.rowCount === 1) await this.compact(lease.id);
    return r.rowCount === 1;
  }

  /** With STREAM_LOG_FORMAT compact or batches, makes a finished stream's log one row; a failure leaves the rows, readable as they are. */
  private async compact(id: string): Promise<void> {
    if (this.logFormat === 'rows') return;
    try {
      await this.db.query(COMPACT, [id]);
    } catch (err) {
      this.logger?.warn({ stream: id, err: (err as Error).message }, 'could not compact a finished stream log; its rows stay');
    }
  }

  /**
   * Ends a stream its owner cancelled, wherever it is generated: whoever holds it finds its next
   * write fenced (the status is no longer `generating`) and stops its upstream.
   */
  async cancel(id: string, owner: Owner): Promise<StreamRow | undefined> {
    const { rows } = await this.db.query<RawRow>(
      `UPDATE streams SET status = 'cancelled', finish = $3, lease_holder = NULL, lease_expires_at = NULL, updated_at = now()
       WHERE id = $1 AND owner = $2 AND status = 'generating'
       RETURNING ${ROW}`,
      [id, owner, JSON.stringify({ finish_reason: 'cancelled' })],
    );
    // The replica generating it may still be writing its last batch: that write is fenced (not
    // `generating` any more), so what is compacted here is the whole log.
    if (rows[0]) await this.compact(id);
    return rows[0] && toRow(rows[0]);
  }

  /** Removes a stream its owner deleted, and its log. */
  async remove(id: string, owner: Owner): Promise<void> {
    await this.db.query('DELETE FROM streams WHERE id = $1 AND owner = $2', [id, owner]);
  }

  /** Records the generation span of the replica that holds the stream now, for the next one to link to. */
  async noteTrace(lease: Lease, last: string): Promise<void> {
    await this.db.query(
      `UPDATE streams SET trace = jsonb_set(coalesce(trace, '{}'::jsonb), '{last}', to_jsonb($4::text)) WHERE ${this.leases.fence(1, 2, 3)}`,
      [lease.id, lease.epoch, this.replica, last],
    );
  }
}
