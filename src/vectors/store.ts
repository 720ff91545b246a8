import type { Database, Queryable } from '../db/database.js';
import { QUOTA_LOCKS, withinQuota, type Quota } from '../db/quota.js';
import { float32ArrayText } from '../embeddings/float32-text.js';

export interface StoredDocument {
  readonly id: string;
  readonly text: string;
  readonly metadata: Record<string, unknown>;
  readonly embedding: Float32Array;
}

export interface SearchResult {
  readonly id: string;
  /** Cosine similarity in [-1, 1]; higher is closer. */
  readonly score: number;
  readonly text: string;
  readonly metadata: Record<string, unknown>;
}

const INDEX_LOCK = 7_311_030; // advisory lock: replicas starting at once create the index once

/**
 * Documents and their vectors in PostgreSQL/pgvector. `documents.embedding` has no fixed
 * dimension so models can change; each dimension gets its own partial HNSW index over
 * `embedding::vector(dims)`, and every query repeats that exact expression so the planner can
 * use it. `dims` is an integer interpolated into SQL (type modifiers cannot be parameters).
 */
export class VectorStore {
  readonly #db: Database;
  readonly #model: string;
  readonly #dims: number;
  readonly #vec: string;

  readonly #quota: Quota;

  constructor(db: Database, model: string, dims: number, perKeyMaxDocuments: number) {
    if (!Number.isInteger(dims) || dims < 1 || dims > 16_000) throw new RangeError(`invalid embedding dimension ${dims}`);
    this.#db = db;
    this.#model = model;
    this.#dims = dims;
    this.#vec = `vector(${dims})`;
    this.#quota = {
      lock: QUOTA_LOCKS.documents,
      what: 'documents',
      max: perKeyMaxDocuments,
      retryAfterSeconds: 60,
      count: async (c, owner) =>
        (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM documents WHERE owner = $1', [owner])).rows[0]!.n,
    };
  }

  get indexName(): string {
    return `documents_hnsw_${this.#dims}`;
  }

  /** Idempotent; safe when several replicas start at once. */
  async ensureIndex(): Promise<void> {
    await this.#db.maintenance(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [INDEX_LOCK]);
      await c.query(
        `CREATE INDEX IF NOT EXISTS ${this.indexName} ON documents
         USING hnsw ((embedding::${this.#vec}) vector_cosine_ops) WHERE dims = ${this.#dims}`,
      );
    });
  }

  /** Inserts or replaces documents by (owner, id); ids must be unique within the call. */
  async upsert(owner: string, docs: readonly StoredDocument[]): Promise<{ inserted: number; updated: number }> {
    const rows = docs.map((d) => ({ id: d.id, text: d.text, metadata: d.metadata, embedding: float32ArrayText(d.embedding) }));
    // Replacing a document adds nothing to the owner's count; only new ids do.
    const newIds = async (c: Queryable) =>
      docs.length -
      (
        await c.query<{ n: number }>('SELECT count(*)::int AS n FROM documents WHERE owner = $1 AND id = ANY($2)', [
          owner,
          docs.map((d) => d.id),
        ])
      ).rows[0]!.n;
    const result = await withinQuota(this.#db, this.#quota, owner, newIds, (c) =>
      c.query<{ inserted: boolean }>(
        `INSERT INTO documents (owner, id, text, metadata, model, dims, embedding)
         SELECT $1, d.id, d.text, d.metadata, $2, $3, d.embedding::vector
           FROM jsonb_to_recordset($4::jsonb) AS d(id text, text text, metadata jsonb, embedding text)
         ON CONFLICT (owner, id) DO UPDATE
           SET text = excluded.text, metadata = excluded.metadata, model = excluded.model,
               dims = excluded.dims, embedding = excluded.embedding, updated_at = now()
         RETURNING (xmax = 0) AS inserted`,
        [owner, this.#model, this.#dims, JSON.stringify(rows)],
      ),
    );
    const inserted = result.rows.filter((r) => r.inserted).length;
    return { inserted, updated: result.rows.length - inserted };
  }

  /** The owner's `k` documents (embedded by this model) closest to `vector`, closest first. */
  async nearest(owner: string, vector: Float32Array, k: number): Promise<SearchResult[]> {
    const v = this.#vec;
    const result = await this.#db.transaction(async (c) => {
      // The owner and model filters apply after the index scan; an iterative scan keeps reading
      // the index until k rows pass them, so other owners' documents never crowd out results.
      await c.query("SET LOCAL hnsw.iterative_scan = 'strict_order'");
      return c.query<{ id: string; text: string; metadata: Record<string, unknown>; distance: number }>(
        `SELECT id, text, metadata, embedding::${v} <=> $2::${v} AS distance
           FROM documents
          WHERE dims = ${this.#dims} AND owner = $1 AND model = $3
          ORDER BY embedding::${v} <=> $2::${v}
          LIMIT $4`,
        [owner, float32ArrayText(vector), this.#model, k],
      );
    });
    return result.rows.map((r) => ({ id: r.id, score: 1 - Number(r.distance), text: r.text, metadata: r.metadata }));
  }
}
