import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../../src/db/database.js';
import { createLogger } from '../../../src/log/logger.js';
import { VectorStore } from '../../../src/vectors/store.js';

const never = { at: Infinity, signal: new AbortController().signal, remainingMs: () => Infinity };
const unit = (...xs: number[]) => {
  const n = Math.hypot(...xs);
  return Float32Array.from(xs, (x) => x / n);
};

describe('VectorStore on embedded PGlite', () => {
  let db: Database;
  let store: VectorStore;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lastcall-vectors-'));
    db = await openDatabase({ url: undefined, dataDir, poolSize: 1, logger: createLogger('silent') });
    store = new VectorStore(db, 'test-model', 3, 4);
    await store.ensureIndex();
  });
  afterAll(async () => {
    await db.close(never);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates the partial HNSW index once, idempotently', async () => {
    await store.ensureIndex();
    const { rows } = await db.query<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE indexname = 'documents_hnsw_3'");
    expect(rows).toHaveLength(1);
    expect(rows[0]!.indexdef).toMatch(/USING hnsw \(\(\(embedding\)::vector\(3\)\) vector_cosine_ops\) WHERE \(dims = 3\)/);
  });

  it('upserts by (owner, id), counting inserts and updates', async () => {
    expect(
      await store.upsert('alice', [
        { id: 'x', text: 'x axis', metadata: { n: 1 }, embedding: unit(1, 0, 0) },
        { id: 'y', text: 'y axis', metadata: {}, embedding: unit(0, 1, 0) },
      ]),
    ).toEqual({ inserted: 2, updated: 0 });
    expect(
      await store.upsert('alice', [
        { id: 'x', text: 'x axis again', metadata: { n: 2 }, embedding: unit(1, 0.1, 0) },
        { id: 'z', text: 'z axis', metadata: {}, embedding: unit(0, 0, 1) },
      ]),
    ).toEqual({ inserted: 1, updated: 1 });
  });

  it('returns the nearest documents first with cosine scores, only the owner’s', async () => {
    await store.upsert('bob', [{ id: 'x', text: 'bob x', metadata: {}, embedding: unit(1, 0, 0) }]);
    const hits = await store.nearest('alice', unit(1, 0, 0), 2);
    expect(hits.map((h) => h.id)).toEqual(['x', 'y']);
    expect(hits[0]!.text).toBe('x axis again');
    expect(hits[0]!.metadata).toEqual({ n: 2 });
    expect(hits[0]!.score).toBeCloseTo(1 / Math.hypot(1, 0.1), 5);
    expect(hits[1]!.score).toBeCloseTo(0, 5);
    expect(await store.nearest('carol', unit(1, 0, 0), 5)).toEqual([]);
  });

  it('queries with the indexed expression, so the planner can use the index', async () => {
    const plan = await db.transaction(async (c) => {
      // On a table this small a sort is cheaper; forbid it to see whether the index can serve the order.
      await c.query('SET LOCAL enable_sort = off');
      const { rows } = await c.query<{ 'QUERY PLAN': string }>(
        "EXPLAIN SELECT id FROM documents WHERE dims = 3 AND owner = 'alice' AND model = 'test-model' ORDER BY embedding::vector(3) <=> '[1,0,0]'::vector(3) LIMIT 2",
      );
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    expect(plan).toContain('documents_hnsw_3');
  });

  it('keeps each key to its quota of documents; replacing one adds nothing', async () => {
    const doc = (id: string) => ({ id, text: id, metadata: {}, embedding: unit(1, 1, 0) });
    await store.upsert('dora', [doc('a'), doc('b'), doc('c')]);
    await expect(store.upsert('dora', [doc('d'), doc('e')])).rejects.toMatchObject({
      status: 429,
      message: 'this key has 3 documents; at most 4 per key',
    });
    expect(await store.upsert('dora', [doc('a'), doc('d')])).toEqual({ inserted: 1, updated: 1 });
    expect(await store.upsert('dora', [doc('a')])).toEqual({ inserted: 0, updated: 1 });
    await expect(store.upsert('dora', [doc('e')])).rejects.toMatchObject({ status: 429 });
  });
});
