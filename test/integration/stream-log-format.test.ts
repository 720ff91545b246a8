import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resumeStream, streamChat } from '../../src/client/index.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import type { LogEntry } from '../../src/llm/upstream.js';
import { createLogger } from '../../src/log/logger.js';
import type { Entry } from '../../src/streams/protocol.js';
import { StreamStore } from '../../src/streams/store.js';
import { plan } from '../../src/upstream/text.js';
import { startPostgres, type PostgresInstance } from '../../testkit/postgres.js';
import { forwarder } from '../../testkit/forwarder.js';
import { startService } from '../../testkit/service.js';

/**
 * STREAM_LOG_FORMAT=compact: a finished stream's log becomes one row; `batches`: each write is
 * one row per stream, compacted once finished. Both read back entry for entry by the same
 * queries that read per-entry rows, on PostgreSQL and on embedded PGlite; a replica that writes
 * per-entry rows replays a stream another replica compacted, and continues one another replica
 * wrote in batches.
 */
const never = { at: Infinity, signal: new AbortController().signal, remainingMs: () => Infinity };

const ENTRIES: LogEntry[] = [
  { kind: 'text', text: 'Hello' },
  { kind: 'text', text: ', "quoted" \\ and \n newline ✓' },
  { kind: 'tool', index: 0, id: 'call_1', name: 'search', arguments: '{"q":' },
  { kind: 'tool', index: 0, arguments: '"pods"}' },
  { kind: 'reset' },
  { kind: 'text', text: '' },
  { kind: 'text', text: 'again' },
];

let pgi: PostgresInstance;
beforeAll(async () => {
  pgi = await startPostgres();
});
afterAll(() => pgi?.stop());

describe.each(['postgres', 'pglite'] as const)('the compact log on %s', (kind) => {
  let db: Database;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lastcall-log-format-'));
    db = await openDatabase({
      url: kind === 'postgres' ? pgi.url : undefined,
      dataDir,
      poolSize: 2,
      logger: createLogger('silent'),
    });
  });
  afterAll(async () => {
    await db?.close(never);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** A new stream of alice's, leased by `store`, and the entries to write to it. */
  async function created(store: StreamStore, id: string) {
    const lease = await store.create({
      id,
      owner: 'alice',
      request: { messages: [{ role: 'user', content: 'x' }], max_tokens: 10 },
      format: 'native',
      detached: false,
      createdAt: new Date(),
      trace: undefined,
    });
    const entries: Entry[] = ENTRIES.map((e, i) => ({ ...e, seq: i + 1 }));
    return { lease, entries };
  }

  async function writeAndFinish(store: StreamStore, id: string, end: 'finish' | 'cancel') {
    const { lease, entries } = await created(store, id);
    // Two writes, as two flushes would make them.
    for (const part of [entries.slice(0, 3), entries.slice(3)]) {
      const fenced = await store.append([{ ...lease, entries: part, lastSeq: part.at(-1)!.seq, cursor: undefined }]);
      expect([...fenced]).toEqual([]);
    }
    if (end === 'finish') expect(await store.finish(lease, entries.length, { finish_reason: 'stop' })).toBe(true);
    else expect(await store.cancel(id, 'alice')).toBeDefined();
    return entries;
  }

  const rowsOf = async (table: string, id: string) =>
    (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE stream_id = $1`, [id])).rows[0]!.n;

  it.each(['finish', 'cancel'] as const)(
    '%s: one row replaces the entries, which read back exactly, by page and whole',
    async (end) => {
      const store = new StreamStore(db, 'replica-a', 15, 100, 'compact');
      const id = `compact-${kind}-${end}`.padEnd(22, 'x');
      const entries = await writeAndFinish(store, id, end);
      expect(await rowsOf('stream_chunks', id)).toBe(0);
      expect(await rowsOf('stream_logs', id)).toBe(1);
      expect(await store.log(id, entries.length)).toEqual(entries);
      expect(await store.entries(id, 0, 100)).toEqual(entries);
      expect(await store.entries(id, 2, 3)).toEqual(entries.slice(2, 5));
      expect(await store.entries(id, entries.length, 10)).toEqual([]);
    },
  );

  it('batches: one row per write, read back exactly from any entry (pages starting inside a batch), then compacted', async () => {
    const store = new StreamStore(db, 'replica-a', 15, 100, 'batches');
    const id = `batches-${kind}`.padEnd(22, 'x');
    const { lease, entries } = await created(store, id);
    // A write carrying only the upstream's cursor (no entries) adds no row.
    for (const part of [entries.slice(0, 3), [], entries.slice(3)]) {
      const lastSeq = part.at(-1)?.seq ?? 3;
      expect([...(await store.append([{ ...lease, entries: part, lastSeq, cursor: undefined }]))]).toEqual([]);
    }
    expect(await rowsOf('stream_batches', id)).toBe(2);
    expect(await rowsOf('stream_chunks', id)).toBe(0);
    for (let after = 0; after <= entries.length; after++) {
      expect(await store.entries(id, after, 100)).toEqual(entries.slice(after));
      expect(await store.entries(id, after, 2)).toEqual(entries.slice(after, after + 2));
    }
    expect(await store.log(id, 5)).toEqual(entries.slice(0, 5));
    expect((await store.getWithEntries(id, 2, 3))?.entries).toEqual(entries.slice(2, 5));
    expect(await store.finish(lease, entries.length, { finish_reason: 'stop' })).toBe(true);
    expect(await rowsOf('stream_batches', id)).toBe(0);
    expect(await rowsOf('stream_logs', id)).toBe(1);
    expect(await store.log(id, entries.length)).toEqual(entries);
  });

  it('rows (the default) keeps one row per entry, read back the same way', async () => {
    const store = new StreamStore(db, 'replica-a', 15, 100);
    const id = `rows-${kind}`.padEnd(22, 'x');
    const entries = await writeAndFinish(store, id, 'finish');
    expect(await rowsOf('stream_chunks', id)).toBe(entries.length);
    expect(await rowsOf('stream_logs', id)).toBe(0);
    expect(await store.entries(id, 0, 100)).toEqual(entries);
  });
});

describe('replicas with different formats share streams', () => {
  const env = (format: string, replica: string, tokensPerSecond: number) => ({
    DATABASE_URL: pgi.url,
    REPLICA_ID: replica,
    STREAM_LOG_FORMAT: format,
    DEV_UPSTREAM_TOKENS_PER_SECOND: String(tokensPerSecond),
    TERMINATION_GRACE_PERIOD_SECONDS: '3',
    SHUTDOWN_SAFETY_MARGIN_SECONDS: '1',
  });

  it('a stream A writes in batches is continued by B, which writes rows, after A is signalled mid-answer; the mixed log replays exactly', async () => {
    const [a, b] = await Promise.all([startService(env('batches', 'mix-a', 100)), startService(env('rows', 'mix-b', 100))]);
    const proxy = forwarder();
    try {
      const url = await proxy.listen();
      proxy.point(a.port);
      const body = { messages: [{ role: 'user', content: 'batches then rows' }], max_tokens: 300 };
      const reference = plan(body.messages, 300).tokens;
      const result = await streamChat(url, body, {
        onEvent: (e) => {
          if (e.event === 'token' && e.id === 40) {
            proxy.point(b.port);
            a.kill('SIGTERM');
          }
        },
      });
      expect(result.text).toBe(reference.join(''));
      expect(result.resumes).toBeGreaterThanOrEqual(1);
      expect((await a.exited).code).toBe(0);
      const admin = new pg.Client({ connectionString: pgi.url });
      await admin.connect();
      const { rows } = await admin
        .query<{ batches: number; chunks: number }>(
          `SELECT (SELECT count(*)::int FROM stream_batches WHERE stream_id = $1) AS batches,
                  (SELECT count(*)::int FROM stream_chunks WHERE stream_id = $1) AS chunks`,
          [result.streamId],
        )
        .finally(() => admin.end());
      // Both formats hold part of it: A's batches up to the handoff, B's rows after.
      expect(rows[0]!.batches).toBeGreaterThan(0);
      expect(rows[0]!.chunks).toBeGreaterThan(0);
      for (const from of [0, 20, 39, 40, 41, 150]) {
        expect((await resumeStream(b.url, result.streamId, from)).text).toBe(reference.slice(from).join(''));
      }
    } finally {
      await proxy.close();
      a.kill('SIGKILL');
      b.kill('SIGKILL');
    }
  });

  it('a stream compacted by A replays exactly from B, which writes rows, from the start and from the middle', async () => {
    const [a, b] = await Promise.all([startService(env('compact', 'fmt-a', 2000)), startService(env('rows', 'fmt-b', 2000))]);
    try {
      const body = { messages: [{ role: 'user', content: 'compact me' }], max_tokens: 300 };
      const reference = plan(body.messages, 300).tokens;
      const first = await streamChat(a.url, body);
      expect(first.text).toBe(reference.join(''));
      const whole = await resumeStream(b.url, first.streamId, 0);
      expect(whole.text).toBe(reference.join(''));
      expect(whole.finishReason).toBe('length');
      const rest = await resumeStream(b.url, first.streamId, 120);
      expect(rest.text).toBe(reference.slice(120).join(''));
    } finally {
      a.kill('SIGKILL');
      b.kill('SIGKILL');
    }
  });
});
