import type { Database } from '../db/database.js';

/** A held lease: the row and the epoch our claim gave it. Every write as holder names both. */
export interface Lease {
  readonly id: string;
  readonly epoch: number;
}

/** How a claim found its row free: released at a handoff, or its holder stopped heartbeating. */
export const CLAIM_VIAS = ['handoff', 'expiry'] as const;
export type ClaimVia = (typeof CLAIM_VIAS)[number];

/**
 * The SQL of one table of leased rows (streams being generated, tasks being run), so both lease
 * the same way:
 * - free: nobody holds it (`lease_holder IS NULL`: released, or never taken) or the holder stopped
 *   heartbeating (`lease_expires_at < now()`, the database's clock, which every replica shares);
 * - taking it bumps `epoch`, and every write by a holder is fenced by (id, epoch, holder, active
 *   status): a replica that lost its lease — paused past the TTL, partitioned, or its row
 *   cancelled — changes nothing, whatever it believes;
 * - releasing it records who released it, which is how the next claim tells a handoff from an
 *   expiry.
 */
export class LeaseTable {
  constructor(
    private readonly db: Database,
    private readonly spec: { readonly table: 'streams' | 'tasks'; readonly activeStatus: string },
    readonly replica: string,
    readonly leaseSeconds: number,
  ) {}

  /** Predicate on a row that may be claimed now. */
  static readonly FREE = '(lease_holder IS NULL OR lease_expires_at < now())';

  /** `now() + lease` for the parameter holding the lease in seconds. */
  static expiry(secondsParam: number): string {
    return `now() + make_interval(secs => $${secondsParam})`;
  }

  /** Assignments that take a free row for `holderParam` (the previous holder is fenced off). */
  static take(holderParam: number, secondsParam: number): string {
    return `lease_holder = $${holderParam}, lease_expires_at = ${LeaseTable.expiry(secondsParam)}, epoch = epoch + 1,
      released_by = NULL, claimed_at = now(), updated_at = now()`;
  }

  /** Predicate on a row this replica still holds at this epoch (parameters: id, epoch, holder). */
  fence(idParam: number, epochParam: number, holderParam: number): string {
    return `id = $${idParam} AND ${this.batchFence(this.spec.table, `$${epochParam}`, holderParam)}`;
  }

  /**
   * The same fence for a statement over many rows at once: `alias` is the leased table, `epoch`
   * the expression holding each row's claimed epoch.
   */
  batchFence(alias: string, epoch: string, holderParam: number): string {
    const active = this.spec.activeStatus;
    return `${alias}.epoch = ${epoch} AND ${alias}.lease_holder = $${holderParam} AND ${alias}.status = '${active}'`;
  }

  /** How a claim found the row free, from its state just before the claim; undefined for a fresh row. */
  static via(previous: { readonly releasedBy: string | null; readonly holder: string | null }): ClaimVia | undefined {
    if (previous.releasedBy !== null) return 'handoff';
    if (previous.holder !== null) return 'expiry';
    return undefined;
  }

  /**
   * Locks `rows` (a relation of ids) of this table in id order before a statement writes several
   * leased rows at once (the batch writer), so two such statements never deadlock over them.
   */
  lockedInOrder(rows: string): string {
    return `SELECT t.id FROM ${this.spec.table} t WHERE t.id IN (SELECT id FROM ${rows}) ORDER BY t.id FOR UPDATE OF t`;
  }

  /**
   * Extends every lease in one statement; returns the ids no longer ours. A row another statement
   * holds locked right now (our own batch writer appending to it) is skipped, not waited for, so
   * the heartbeat never takes part in a deadlock: it is extended at the next beat. What counts as
   * lost is read from the fence, which those writes never change.
   */
  async extend(leases: readonly Lease[]): Promise<Set<string>> {
    if (leases.length === 0) return new Set();
    const { rows } = await this.db.heartbeat<{ id: string }>(
      `WITH h AS (SELECT * FROM unnest($1::text[], $2::int[]) AS h(id, epoch)),
       mine AS (
         SELECT t.id FROM ${this.spec.table} t JOIN h ON h.id = t.id
         WHERE ${this.batchFence('t', 'h.epoch', 4)} FOR UPDATE OF t SKIP LOCKED
       ),
       extended AS (UPDATE ${this.spec.table} t SET lease_expires_at = ${LeaseTable.expiry(3)} FROM mine WHERE t.id = mine.id)
       SELECT h.id FROM h
       WHERE NOT EXISTS (SELECT 1 FROM ${this.spec.table} t WHERE t.id = h.id AND ${this.batchFence('t', 'h.epoch', 4)})`,
      [leases.map((l) => l.id), leases.map((l) => l.epoch), this.leaseSeconds, this.replica],
    );
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Milliseconds until the first lease another replica holds on an active row (matching `where`,
   * if given) expires, as the database's clock counts; undefined when there is none. Ours never
   * expire while we run.
   */
  async nextExpiry(where = 'true'): Promise<number | undefined> {
    const { rows } = await this.db.query<{ ms: number | null }>(
      `SELECT (extract(epoch FROM min(lease_expires_at) - now()) * 1000)::float8 AS ms FROM ${this.spec.table}
       WHERE status = '${this.spec.activeStatus}' AND lease_holder IS NOT NULL AND lease_holder <> $1 AND ${where}`,
      [this.replica],
    );
    return rows[0]?.ms ?? undefined;
  }

  /** Gives the lease back at once so any replica can claim the row; the status stays active. */
  async release(lease: Lease): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE ${this.spec.table} SET lease_holder = NULL, lease_expires_at = NULL, released_by = $3, released_at = now(),
         updated_at = now()
       WHERE ${this.fence(1, 2, 3)}`,
      [lease.id, lease.epoch, this.replica],
    );
    return r.rowCount === 1;
  }
}
