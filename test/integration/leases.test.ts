import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.js';
import { LeaseKeeper, type LeaseLoss } from '../../src/leases/keeper.js';
import { createLogger } from '../../src/log/logger.js';
import { StreamStore } from '../../src/streams/store.js';
import { startPostgres, type PostgresInstance } from '../../testkit/postgres.js';

const never = { at: Infinity, signal: new AbortController().signal, remainingMs: () => Infinity };
const LEASE_SECONDS = 2;

/** The lease under load and under a database that stops answering (real PostgreSQL). */
describe('stream leases', () => {
  let pgi: PostgresInstance;
  let db: Database;
  let mine: StreamStore;
  let theirs: StreamStore;

  beforeAll(async () => {
    pgi = await startPostgres();
    db = await openDatabase({ url: pgi.url, dataDir: '/nonexistent', poolSize: 4, logger: createLogger('silent') });
    mine = new StreamStore(db, 'replica-a', LEASE_SECONDS, 100);
    theirs = new StreamStore(db, 'replica-b', LEASE_SECONDS, 100);
  });
  afterAll(async () => {
    await db?.close(never);
    await pgi?.stop();
  });

  const create = (store: StreamStore, id: string) =>
    store.create({
      id,
      owner: 'alice',
      request: { messages: [{ role: 'user', content: 'x' }], max_tokens: 100 },
      format: 'native',
      detached: false,
      createdAt: new Date(),
      trace: undefined,
    });

  it('a stream written to in every heartbeat keeps its lease: each write extends it', async () => {
    // The heartbeat skips rows the batch writer holds locked; under load that can be every beat.
    const lease = await create(mine, 'written-all-along');
    const until = performance.now() + LEASE_SECONDS * 1000 * 1.5;
    let seq = 0;
    while (performance.now() < until) {
      seq++;
      const fenced = await mine.append([
        { ...lease, entries: [{ kind: 'text', text: `t${seq}`, seq }], lastSeq: seq, cursor: undefined },
      ]);
      expect([...fenced]).toEqual([]);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await theirs.claim('written-all-along')).toBeUndefined();
  });

  it('a replica that cannot reach the database stops the work before its lease expires', async () => {
    const lease = await create(mine, 'cut-off');
    const keeper = new LeaseKeeper(mine.leases, createLogger('silent'));
    const held = performance.now();
    const lost = new Promise<{ why: LeaseLoss; afterMs: number }>((resolve) =>
      keeper.hold(lease, (why) => resolve({ why, afterMs: performance.now() - held })),
    );
    pgi.pause();
    try {
      const { why, afterMs } = await lost;
      expect(why).toBe('lease_unconfirmed');
      // Before the database's expiry (2 s after the claim), whatever the hung heartbeat does.
      expect(afterMs).toBeLessThan(LEASE_SECONDS * 1000);
      expect(afterMs).toBeGreaterThan(LEASE_SECONDS * 1000 * 0.6);
    } finally {
      pgi.resume();
      keeper.stop();
    }
  });
});
