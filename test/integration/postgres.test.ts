import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresInstance } from '../../testkit/postgres.js';

describe('real PostgreSQL 15 + pgvector (testkit/postgres.ts)', () => {
  let db: PostgresInstance | undefined;

  beforeAll(async () => {
    db = await startPostgres();
  }, 120_000);

  afterAll(async () => {
    await db?.stop();
  }, 60_000);

  async function withClient<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: db!.url });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  it('serves the lastcall database with the vector extension', async () => {
    expect(db!.url).toBe(`postgres://postgres@127.0.0.1:${db!.port}/lastcall`);
    await withClient(async (c) => {
      const v = await c.query<{ server_version_num: string }>('SHOW server_version_num');
      expect(Number(v.rows[0]!.server_version_num)).toBeGreaterThanOrEqual(150000);
      const d = await c.query<{ d: number }>(`SELECT '[1,2,3]'::vector <=> '[1,2,4]'::vector AS d`);
      const expected = 1 - 17 / (Math.sqrt(14) * Math.sqrt(21));
      expect(d.rows[0]!.d).toBeCloseTo(expected, 6);
      const mc = await c.query<{ max_connections: string }>('SHOW max_connections');
      expect(Number(mc.rows[0]!.max_connections)).toBeGreaterThanOrEqual(200);
    });
  });

  it('builds an HNSW index and uses it for nearest-neighbour search', async () => {
    await withClient(async (c) => {
      await c.query('CREATE TABLE items (id int PRIMARY KEY, embedding vector(3) NOT NULL)');
      await c.query(
        `INSERT INTO items SELECT i, ARRAY[cos(i), sin(i), i / 100.0]::real[]::vector FROM generate_series(1, 200) i`,
      );
      await c.query('CREATE INDEX items_embedding_hnsw ON items USING hnsw (embedding vector_cosine_ops)');
      await c.query('SET enable_seqscan = off');
      const plan = await c.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT id FROM items ORDER BY embedding <=> '[1,0,0.5]' LIMIT 5`,
      );
      expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('items_embedding_hnsw');
      const nn = await c.query<{ id: number }>(`SELECT id FROM items ORDER BY embedding <=> '[1,0,0.5]' LIMIT 5`);
      expect(nn.rows).toHaveLength(5);
    });
  });

  it('survives a restart: data kept, same URL, clients reconnect', async () => {
    const client = new pg.Client({ connectionString: db!.url });
    client.on('error', () => undefined); // the fast shutdown terminates this connection
    await client.connect();
    const t0 = Date.now();
    await db!.restart();
    const restartMs = Date.now() - t0;
    await expect(client.query('SELECT 1')).rejects.toThrow();
    await client.end().catch(() => undefined);

    await withClient(async (c) => {
      const n = await c.query<{ n: string }>('SELECT count(*) AS n FROM items');
      expect(Number(n.rows[0]!.n)).toBe(200);
      const d = await c.query<{ d: number }>(`SELECT '[1,2,3]'::vector <=> '[1,2,4]'::vector AS d`);
      expect(d.rows[0]!.d).toBeGreaterThan(0);
    });
    expect(restartMs).toBeLessThan(30_000);
  }, 60_000);

  it('stop() shuts the server down and removes its data directory', async () => {
    const { existsSync } = await import('node:fs');
    const dataDir = db!.dataDir;
    await db!.stop();
    expect(existsSync(dataDir)).toBe(false);
    const client = new pg.Client({ connectionString: db!.url, connectionTimeoutMillis: 2000 });
    client.on('error', () => undefined);
    await expect(client.connect()).rejects.toThrow();
    db = undefined;
  });
});
