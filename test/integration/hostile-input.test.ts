import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresInstance } from '../../testkit/postgres.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

/**
 * Inputs that used to reach the database (or the JSON encoder) and come back as 500s: each is a
 * 4xx with a JSON body naming the problem now, checked against a real PostgreSQL (which is where
 * NUL and lone surrogates used to fail).
 */
describe('hostile input gets a clean 4xx naming the problem (real PostgreSQL)', () => {
  let pgi: PostgresInstance;
  let svc: ServiceProcess;
  const KEY = 'h'.repeat(32);
  const auth = { Authorization: `Bearer ${KEY}` };

  const send = async (method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) => {
    const res = await fetch(`${svc.url}${path}`, {
      method,
      headers: { ...auth, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
      body,
    });
    const text = await res.text();
    let json: { error?: { code?: string; message?: string } } | undefined;
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  };
  const post = (path: string, body: unknown) => send('POST', path, JSON.stringify(body));

  beforeAll(async () => {
    pgi = await startPostgres();
    svc = await startService({ DATABASE_URL: pgi.url, API_KEYS: KEY });
  });
  afterAll(async () => {
    svc?.kill('SIGKILL');
    await svc?.exited;
    await pgi?.stop();
  });

  it('bodies whose Content-Encoding does not decode: 400, on every POST route', async () => {
    const gzipOfBadJson = zlib.gzipSync('{"prompt": ');
    const results = [];
    for (const path of ['/v1/chat/stream', '/v1/tasks', '/v1/embeddings', '/v1/documents', '/v1/search']) {
      for (const encoding of ['gzip', 'br', 'deflate']) {
        results.push({
          path,
          encoding,
          ...(await send('POST', path, Buffer.from('definitely not compressed'), { 'Content-Encoding': encoding })),
        });
      }
      results.push({
        path,
        encoding: 'gzip of bad JSON',
        ...(await send('POST', path, gzipOfBadJson, { 'Content-Encoding': 'gzip' })),
      });
    }
    for (const r of results) {
      expect([r.path, r.encoding, r.status]).toEqual([r.path, r.encoding, 400]);
      expect(r.json?.error?.code, `${r.path} ${r.encoding}`).toMatch(/^(bad_request|invalid_json)$/);
    }
  });

  it('malformed percent-encoding in a path parameter: 400, or 404 when it cannot name anything', async () => {
    const ids = ['%', '%E0%A4%A', '%C0%80', '%ED%A0%80', '%ZZ', '%00'];
    for (const id of ids) {
      for (const [method, path] of [
        ['GET', `/v1/streams/${id}`],
        ['GET', `/v1/tasks/${id}`],
        ['DELETE', `/v1/tasks/${id}`],
        ['GET', `/v1/tasks/${id}/events`],
      ] as const) {
        const r = await send(method, path);
        expect([method, path, r.status < 500]).toEqual([method, path, true]);
        expect([400, 404]).toContain(r.status);
        expect(r.json?.error?.code).toBeTypeOf('string');
      }
    }
  });

  it('NUL and lone surrogates in text, ids or metadata: 400 naming the field, nothing reaches the database', async () => {
    const cases: [string, unknown, RegExp][] = [
      [
        '/v1/chat/stream',
        { messages: [{ role: 'user', content: 'a\u0000b' }] },
        /messages\.0\.content: must not contain U\+0000/,
      ],
      [
        '/v1/chat/stream',
        {
          messages: [
            { role: 'system', content: 'x' },
            { role: 'user', content: '\ud800' },
          ],
        },
        /messages\.1\.content: .*lone UTF-16 surrogate/,
      ],
      ['/v1/tasks', { prompt: 'plan \u0000 this' }, /prompt: must not contain U\+0000/],
      ['/v1/tasks', { prompt: 'plan \udfff this' }, /prompt: .*surrogate/],
      ['/v1/documents', { documents: [{ id: 'a\u0000', text: 'fine' }] }, /documents\.0\.id: must not contain U\+0000/],
      ['/v1/documents', { documents: [{ id: 'a', text: 'nul \u0000 inside' }] }, /documents\[0\]\.text must not contain U\+0000/],
      ['/v1/documents', { documents: [{ id: 'a', text: 'half \ud83d pair' }] }, /documents\[0\]\.text .*surrogate/],
      [
        '/v1/documents',
        { documents: [{ id: 'a', text: 'ok', metadata: { k: 'v\u0000' } }] },
        /documents\.0\.metadata: k must not contain U\+0000/,
      ],
      ['/v1/documents', { documents: [{ id: 'a', text: 'ok', metadata: { 'k\u0000': 'v' } }] }, /metadata: key must not contain/],
      [
        '/v1/documents',
        { documents: [{ id: 'a', text: 'ok', metadata: { a: { b: ['\ud800'] } } }] },
        /metadata: a\.b\.0 .*surrogate/,
      ],
      ['/v1/search', { query: 'q \u0000' }, /query must not contain U\+0000/],
    ];
    for (const [path, body, message] of cases) {
      const r = await post(path, body);
      expect([path, r.status]).toEqual([path, 400]);
      expect(r.json?.error?.message).toMatch(message);
    }
    // None of it was logged as a database error carrying the payload.
    expect(svc.logs.filter((l) => l.msg === 'unhandled error')).toEqual([]);
  });

  it('metadata nested 5,000 deep or oversized: 400 before any embedding work', async () => {
    // Written by hand: JSON.stringify itself overflows the stack at this depth.
    const deep = `${'{"d":'.repeat(5_000)}"leaf"${'}'.repeat(5_000)}`;
    const deepArray = `{"a":${'['.repeat(5_000)}"leaf"${']'.repeat(5_000)}}`;
    const many = JSON.stringify(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i])));
    const big = JSON.stringify({ blob: 'x'.repeat(9_000) });
    for (const [metadata, message] of [
      [deep, /nested deeper than 5 levels/],
      [deepArray, /nested deeper than 5 levels/],
      [many, /more than 64 keys/],
      [big, /at most 8192/],
    ] as const) {
      const r = await send('POST', '/v1/documents', `{"documents":[{"id":"deep","text":"text","metadata":${metadata}}]}`);
      expect(r.status).toBe(400);
      expect(r.json?.error?.message).toMatch(message);
    }
  });

  it('whitespace-only text is refused by chat, tasks and embeddings alike', async () => {
    for (const [path, body] of [
      ['/v1/chat/stream', { messages: [{ role: 'user', content: ' \n\t\u3000' }] }],
      ['/v1/tasks', { prompt: '   ' }],
      ['/v1/embeddings', { input: ' \n\t\u3000' }],
      ['/v1/documents', { documents: [{ id: ' ', text: 'x' }] }],
    ] as const) {
      const r = await post(path, body);
      expect([path, r.status]).toEqual([path, 400]);
    }
  });

  it('a JSON body in a charset other than UTF-8: 415', async () => {
    const r = await send('POST', '/v1/tasks', '{"prompt":"hi"}', { 'Content-Type': 'application/json; charset=utf-7' });
    expect(r.status).toBe(415);
    expect(r.json?.error?.code).toBe('unsupported_charset');
  });
});
