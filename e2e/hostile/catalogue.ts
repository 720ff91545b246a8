/**
 * The input catalogue: one row per hostile request, as data. Each row names the route it aims
 * at, its category, the exact request, and what a correct answer looks like:
 *
 *   'error' — a JSON 4xx (`{"error":{"code","message"}}`); a 2xx is flagged as `accepted`
 *   'any'   — any clean answer; only a 5xx, a hang, a reset or a non-JSON 4xx is flagged
 *   [n...]  — one of these statuses (e.g. another key's resource must be a 404)
 *
 * `secret` marks a payload fragment that must never reach the replica's log.
 */
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import type { Outcome, RawRequest } from './raw.js';

export type Expect = 'error' | 'any' | readonly number[];

export interface Case {
  readonly name: string;
  readonly category: string;
  readonly route: string;
  readonly req: RawRequest;
  readonly expect: Expect;
  readonly secret?: string;
  /** Extra verdict on the answer: a finding's text, or undefined when fine. */
  readonly check?: (o: Outcome) => string | undefined;
  /** Always part of the `--quick` subset. */
  readonly quick?: boolean;
  readonly timeoutMs?: number;
}

/** Resources the catalogue aims at, created before it runs. */
export interface Fixtures {
  readonly keys: { readonly A: string; readonly B: string };
  /** Finished streams, tasks of each key; a document of B whose text holds `docBMarker`. */
  readonly streamA: string;
  readonly streamB: string;
  readonly taskA: string;
  readonly taskB: string;
  readonly docBMarker: string;
  readonly maxBodyBytes: number;
}

const ROUTES = {
  chat: 'POST /v1/chat/stream',
  stream: 'GET /v1/streams/:id',
  tasks: 'POST /v1/tasks',
  task: 'GET /v1/tasks/:id',
  taskDelete: 'DELETE /v1/tasks/:id',
  events: 'GET /v1/tasks/:id/events',
  embeddings: 'POST /v1/embeddings',
  documents: 'POST /v1/documents',
  search: 'POST /v1/search',
  any: '(protocol)',
} as const;

const JSON_CT: [string, string] = ['Content-Type', 'application/json'];

/** A request for the catalogue: JSON content type unless the headers say otherwise. */
function post(
  path: string,
  body: string | Buffer,
  headers: [string, string][] = [JSON_CT],
  auth: RawRequest['auth'] = 'A',
): RawRequest {
  return { method: 'POST', path, body, headers, auth };
}
const get = (path: string, headers: [string, string][] = [], auth: RawRequest['auth'] = 'A'): RawRequest => ({
  method: 'GET',
  path,
  headers,
  auth,
});

/** The POST routes with a valid body each; cases mutate these. */
function postRoutes() {
  return [
    { route: ROUTES.chat, path: '/v1/chat/stream', valid: { messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 } },
    { route: ROUTES.tasks, path: '/v1/tasks', valid: { prompt: 'hostile sweep task', max_steps: 2 } },
    { route: ROUTES.embeddings, path: '/v1/embeddings', valid: { input: 'hello world' } },
    { route: ROUTES.documents, path: '/v1/documents', valid: { documents: [{ id: 'hostile-doc', text: 'hello world' }] } },
    { route: ROUTES.search, path: '/v1/search', valid: { query: 'hello world', k: 3 } },
  ] as const;
}

let secretSeq = 0;
/** A unique, greppable payload fragment. */
const secret = (tag: string) => `hostile${tag}${++secretSeq}x${randomBytes(4).toString('hex')}`;

export function buildCatalogue(f: Fixtures): Case[] {
  const cases: Case[] = [];
  const add = (c: Case) => cases.push(c);
  const posts = postRoutes();
  const idRoutes = [
    { route: ROUTES.stream, method: 'GET', path: (id: string) => `/v1/streams/${id}`, own: f.streamA },
    { route: ROUTES.task, method: 'GET', path: (id: string) => `/v1/tasks/${id}`, own: f.taskA },
    { route: ROUTES.taskDelete, method: 'DELETE', path: (id: string) => `/v1/tasks/${id}`, own: f.taskA },
    { route: ROUTES.events, method: 'GET', path: (id: string) => `/v1/tasks/${id}/events`, own: f.taskA },
  ];

  // ---- 1. every route × methods it does not serve: 405 + Allow --------------------------------
  const paths: { route: string; path: string; allowed: string[] }[] = [
    { route: ROUTES.chat, path: '/v1/chat/stream', allowed: ['POST'] },
    { route: ROUTES.stream, path: `/v1/streams/${f.streamA}`, allowed: ['GET', 'HEAD'] },
    { route: ROUTES.tasks, path: '/v1/tasks', allowed: ['POST'] },
    { route: `${ROUTES.task.slice(4)} (GET, DELETE)`, path: `/v1/tasks/${f.taskA}`, allowed: ['GET', 'DELETE'] },
    { route: ROUTES.events, path: `/v1/tasks/${f.taskA}/events`, allowed: ['GET'] },
    { route: ROUTES.embeddings, path: '/v1/embeddings', allowed: ['POST'] },
    { route: ROUTES.documents, path: '/v1/documents', allowed: ['POST'] },
    { route: ROUTES.search, path: '/v1/search', allowed: ['POST'] },
  ];
  for (const p of paths) {
    for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      if (p.allowed.includes(m)) continue;
      add({
        name: `${m} ${p.path.replace(/[A-Za-z0-9_-]{20,}/, ':id')}`,
        category: 'method',
        route: p.route,
        req: { method: m, path: p.path },
        expect: [405],
        check: (o) => (o.status === 405 && !o.headers.allow ? '405 without Allow header' : undefined),
      });
    }
  }

  // ---- 2. missing, garbage, oversized bodies ---------------------------------------------------
  const big = (n: number) => `{"pad":"${'x'.repeat(Math.max(0, n - 10))}"}`;
  const bodies: { name: string; body?: string | Buffer; headers?: [string, string][]; expect?: Expect; quick?: boolean }[] = [
    { name: 'no body, no content type', headers: [] },
    { name: 'empty body, JSON content type', body: '' },
    { name: 'null', body: 'null' },
    { name: '[] (array)', body: '[]' },
    { name: '"a string"', body: '"a string"' },
    { name: '123', body: '123' },
    { name: 'true', body: 'true' },
    { name: '{{{ garbage', body: '{{{' },
    { name: 'truncated JSON', body: '{"a":' },
    { name: 'trailing garbage after JSON', body: '{} x' },
    { name: 'single-quoted JSON', body: "{'a':1}" },
    { name: 'JSON with a comment', body: '{/* c */}' },
    { name: 'NaN literal', body: '{"a":NaN}' },
    { name: 'whitespace-only body', body: '   \n\t ' },
    { name: 'arrays nested 10,000 deep', body: `${'['.repeat(10_000)}${']'.repeat(10_000)}` },
    { name: 'body of MAX_BODY_BYTES + 1', body: big(f.maxBodyBytes + 1) },
    { name: 'body of 4 MB', body: big(4 * 1024 * 1024) },
  ];
  for (const p of posts) {
    // The route's own valid body, with bytes that are not UTF-8 in its text field, and behind a BOM.
    const validText = JSON.stringify(p.valid);
    const [pre, post_] = validText.split(/(?<="(?:content|prompt|input|text|query)":")/, 2) as [string, string];
    const routeBodies: typeof bodies = [
      ...bodies,
      {
        name: 'invalid UTF-8 bytes in the text field',
        body: Buffer.concat([Buffer.from(pre), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(post_)]),
        expect: 'any',
      },
      {
        name: 'overlong UTF-8 NUL (C0 80) in the text field',
        body: Buffer.concat([Buffer.from(pre), Buffer.from([0xc0, 0x80]), Buffer.from(post_)]),
        expect: 'any',
      },
      {
        name: 'UTF-8 BOM before a valid body',
        body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(validText)]),
        expect: 'any',
      },
    ];
    for (const b of routeBodies) {
      add({
        name: `${p.path}: ${b.name}`,
        category: 'body',
        route: p.route,
        req: post(p.path, b.body ?? Buffer.alloc(0), b.headers ?? [JSON_CT]),
        expect: b.expect ?? 'error',
        ...(b.body === undefined ? { req: { method: 'POST', path: p.path, headers: b.headers ?? [] } } : {}),
      });
    }
  }

  // ---- 3. content types and charset tricks -----------------------------------------------------
  for (const p of posts) {
    const valid = JSON.stringify(p.valid);
    const types: { name: string; headers: [string, string][]; body?: Buffer; expect: Expect }[] = [
      { name: 'text/plain', headers: [['Content-Type', 'text/plain']], expect: 'error' },
      { name: 'form-urlencoded', headers: [['Content-Type', 'application/x-www-form-urlencoded']], expect: 'error' },
      { name: 'multipart/form-data', headers: [['Content-Type', 'multipart/form-data; boundary=x']], expect: 'error' },
      { name: 'no Content-Type with a JSON body', headers: [], expect: 'error' },
      { name: 'application/problem+json', headers: [['Content-Type', 'application/problem+json']], expect: 'error' },
      { name: 'charset=latin1', headers: [['Content-Type', 'application/json; charset=latin1']], expect: 'error' },
      { name: 'charset=utf-7', headers: [['Content-Type', 'application/json; charset=utf-7']], expect: 'error' },
      { name: 'charset=x-unknown', headers: [['Content-Type', 'application/json; charset=x-unknown']], expect: 'error' },
      {
        name: 'charset=utf-16 with UTF-16LE bytes',
        headers: [['Content-Type', 'application/json; charset=utf-16le']],
        body: Buffer.from(valid, 'utf16le'),
        expect: 'any',
      },
      {
        name: 'UTF-16LE bytes labelled utf-8',
        headers: [JSON_CT],
        body: Buffer.from(valid, 'utf16le'),
        expect: 'error',
      },
      { name: 'two Content-Type headers', headers: [JSON_CT, ['Content-Type', 'text/plain']], expect: 'any' },
    ];
    for (const t of types) {
      add({
        name: `${p.path}: ${t.name}`,
        category: 'content-type',
        route: p.route,
        req: post(p.path, t.body ?? valid, t.headers),
        expect: t.expect,
      });
    }
  }

  // ---- 4. Content-Encoding: invalid bytes, valid wrapping of bad JSON, bombs -------------------
  for (const p of posts) {
    const valid = Buffer.from(JSON.stringify(p.valid));
    const bad = Buffer.from('{"not json');
    const garbage = Buffer.from('this is not compressed at all, just bytes \x00\x01\x02');
    const gz = zlib.gzipSync(valid);
    const encs: { name: string; enc: string; body: Buffer; expect: Expect; quick?: boolean }[] = [
      { name: 'gzip, invalid bytes', enc: 'gzip', body: garbage, expect: 'error', quick: true },
      { name: 'br, invalid bytes', enc: 'br', body: garbage, expect: 'error', quick: true },
      { name: 'deflate, invalid bytes', enc: 'deflate', body: garbage, expect: 'error' },
      { name: 'gzip, truncated stream', enc: 'gzip', body: gz.subarray(0, gz.length - 12), expect: 'error' },
      { name: 'gzip of invalid JSON', enc: 'gzip', body: zlib.gzipSync(bad), expect: 'error' },
      { name: 'br of invalid JSON', enc: 'br', body: zlib.brotliCompressSync(bad), expect: 'error' },
      { name: 'deflate of invalid JSON', enc: 'deflate', body: zlib.deflateSync(bad), expect: 'error' },
      { name: 'gzip of a valid body', enc: 'gzip', body: gz, expect: 'any' },
      { name: 'gzip bomb (4 MB inflated)', enc: 'gzip', body: zlib.gzipSync(Buffer.from(big(4 * 1024 * 1024))), expect: 'error' },
      { name: 'zstd (unsupported)', enc: 'zstd', body: garbage, expect: 'error' },
      { name: '"gzip, gzip" of a single gzip', enc: 'gzip, gzip', body: gz, expect: 'error' },
    ];
    for (const e of encs) {
      add({
        name: `${p.path}: Content-Encoding ${e.name}`,
        category: 'content-encoding',
        route: p.route,
        req: post(p.path, e.body, [JSON_CT, ['Content-Encoding', e.enc]]),
        expect: e.expect,
        quick: e.quick,
      });
    }
  }

  // ---- 5. malformed percent-encoding in every :id route ----------------------------------------
  const pct = ['%', '%E0%A4%A', '%C0%80', '%ED%A0%80', '%ZZ', '%FF', 'a%2', '%%'];
  for (const r of idRoutes) {
    pct.forEach((bad, i) => {
      add({
        name: `${r.method} ${r.path(bad)}`,
        category: 'percent-encoding',
        route: r.route,
        req: { method: r.method, path: r.path(bad) },
        expect: 'error',
        quick: i === 0 || i === 4,
      });
    });
  }

  // ---- 6. ids: too long, empty, unicode, traversal, well-formed but unknown ---------------------
  for (const r of idRoutes) {
    const ids: { name: string; id: string; expect?: Expect }[] = [
      { name: 'id of 8,000 characters', id: 'a'.repeat(8000) },
      { name: 'empty id', id: '' },
      { name: 'unicode id (percent-encoded)', id: encodeURIComponent('日本語ストリーム') },
      { name: 'unicode id (raw UTF-8 bytes)', id: Buffer.from('日本語', 'utf8').toString('latin1') },
      { name: 'emoji id', id: encodeURIComponent('🙂🙂') },
      { name: 'path traversal (encoded)', id: '..%2F..%2Fetc%2Fpasswd' },
      { name: 'path traversal (raw)', id: '../../etc/passwd' },
      { name: 'encoded NUL', id: 'abc%00def' },
      { name: 'encoded space and quote', id: '%20%22%27' },
      { name: 'SQL-ish id', id: encodeURIComponent("x' OR '1'='1") },
      { name: 'well-formed unknown id', id: r.route === ROUTES.stream ? 'A'.repeat(22) : `task_${'A'.repeat(24)}` },
    ];
    for (const i of ids) {
      add({
        name: `${r.method} ${r.route.split(' ')[1]}: ${i.name}`,
        category: 'ids',
        route: r.route,
        req: { method: r.method, path: r.path(i.id) },
        expect: i.expect ?? 'error',
      });
    }
  }

  // ---- 7. NUL (\u0000) in every string field ----------------------------------------------------
  const NUL = '\\u0000';
  const nulCases: { name: string; route: string; path: string; body: (s: string) => string }[] = [
    {
      name: 'chat content',
      route: ROUTES.chat,
      path: '/v1/chat/stream',
      body: (s) => `{"messages":[{"role":"user","content":"${s}${NUL}tail"}],"max_tokens":1}`,
    },
    {
      name: 'chat content (system message)',
      route: ROUTES.chat,
      path: '/v1/chat/stream',
      body: (s) => `{"messages":[{"role":"system","content":"${s}${NUL}"},{"role":"user","content":"hi"}],"max_tokens":1}`,
    },
    {
      name: 'chat role',
      route: ROUTES.chat,
      path: '/v1/chat/stream',
      body: (s) => `{"messages":[{"role":"user${NUL}${s}","content":"hi"}],"max_tokens":1}`,
    },
    {
      name: 'chat: unknown extra field',
      route: ROUTES.chat,
      path: '/v1/chat/stream',
      body: (s) => `{"messages":[{"role":"user","content":"hi"}],"max_tokens":1,"x${NUL}":"${s}${NUL}"}`,
    },
    { name: 'task prompt', route: ROUTES.tasks, path: '/v1/tasks', body: (s) => `{"prompt":"${s}${NUL}tail","max_steps":2}` },
    {
      name: 'document id',
      route: ROUTES.documents,
      path: '/v1/documents',
      body: (s) => `{"documents":[{"id":"${s}${NUL}","text":"hello"}]}`,
    },
    {
      name: 'document text',
      route: ROUTES.documents,
      path: '/v1/documents',
      body: (s) => `{"documents":[{"id":"nul-text","text":"${s}${NUL}tail"}]}`,
    },
    {
      name: 'document metadata key',
      route: ROUTES.documents,
      path: '/v1/documents',
      body: (s) => `{"documents":[{"id":"nul-mkey","text":"hello","metadata":{"${s}${NUL}":1}}]}`,
    },
    {
      name: 'document metadata value',
      route: ROUTES.documents,
      path: '/v1/documents',
      body: (s) => `{"documents":[{"id":"nul-mval","text":"hello","metadata":{"k":"${s}${NUL}"}}]}`,
    },
    {
      name: 'document metadata nested value',
      route: ROUTES.documents,
      path: '/v1/documents',
      body: (s) => `{"documents":[{"id":"nul-mnest","text":"hello","metadata":{"a":{"b":["${s}${NUL}"]}}}]}`,
    },
    { name: 'search query', route: ROUTES.search, path: '/v1/search', body: (s) => `{"query":"${s}${NUL}tail","k":3}` },
    {
      name: 'embeddings input (string)',
      route: ROUTES.embeddings,
      path: '/v1/embeddings',
      body: (s) => `{"input":"${s}${NUL}tail"}`,
    },
    {
      name: 'embeddings input (array item)',
      route: ROUTES.embeddings,
      path: '/v1/embeddings',
      body: (s) => `{"input":["ok","${s}${NUL}"]}`,
    },
    {
      name: 'embeddings model',
      route: ROUTES.embeddings,
      path: '/v1/embeddings',
      body: (s) => `{"input":"hi","model":"${s}${NUL}"}`,
    },
    {
      name: 'embeddings user',
      route: ROUTES.embeddings,
      path: '/v1/embeddings',
      body: (s) => `{"input":"hi","user":"${s}${NUL}"}`,
    },
  ];
  nulCases.forEach((c, i) => {
    const s = secret('nul');
    add({
      name: `NUL in ${c.name}`,
      category: 'nul',
      route: c.route,
      req: post(c.path, c.body(s)),
      expect: 'any',
      secret: s,
      quick: i === 0 || i === 4 || i === 6,
    });
  });
  for (const r of [idRoutes[0]!, idRoutes[3]!]) {
    const s = secret('nul');
    add({
      name: `NUL in ?after= (${r.route})`,
      category: 'nul',
      route: r.route,
      req: get(`${r.path(r.own)}?after=1%00${s}`),
      expect: 'error',
      secret: s,
    });
  }

  // ---- 8. lone surrogates in every text field -------------------------------------------------
  const surrogates: { name: string; route: string; path: string; body: string }[] = [
    {
      name: 'chat content \\ud800',
      route: ROUTES.chat,
      path: '/v1/chat/stream',
      body: '{"messages":[{"role":"user","content":"a\\ud800b"}],"max_tokens":1}',
    },
    {
      name: 'chat content \\udfff',
      route: ROUTES.chat,
      path: '/v1/chat/stream',
      body: '{"messages":[{"role":"user","content":"\\udfff"}],"max_tokens":1}',
    },
    {
      name: 'chat content, two high surrogates',
      route: ROUTES.chat,
      path: '/v1/chat/stream',
      body: '{"messages":[{"role":"user","content":"\\ud83d\\ud83d"}],"max_tokens":1}',
    },
    { name: 'task prompt \\ud800', route: ROUTES.tasks, path: '/v1/tasks', body: '{"prompt":"a\\ud800b","max_steps":2}' },
    {
      name: 'document text \\ud800',
      route: ROUTES.documents,
      path: '/v1/documents',
      body: '{"documents":[{"id":"sur-text","text":"a\\ud800b"}]}',
    },
    {
      name: 'document id \\ud800',
      route: ROUTES.documents,
      path: '/v1/documents',
      body: '{"documents":[{"id":"sur\\ud800","text":"hello"}]}',
    },
    {
      name: 'document metadata key \\udc00',
      route: ROUTES.documents,
      path: '/v1/documents',
      body: '{"documents":[{"id":"sur-mkey","text":"hello","metadata":{"\\udc00":1}}]}',
    },
    {
      name: 'document metadata value \\ud800',
      route: ROUTES.documents,
      path: '/v1/documents',
      body: '{"documents":[{"id":"sur-mval","text":"hello","metadata":{"k":"\\ud800"}}]}',
    },
    { name: 'search query \\ud800', route: ROUTES.search, path: '/v1/search', body: '{"query":"a\\ud800b","k":3}' },
    { name: 'embeddings input \\ud800', route: ROUTES.embeddings, path: '/v1/embeddings', body: '{"input":"a\\ud800b"}' },
  ];
  surrogates.forEach((c, i) =>
    add({
      name: `lone surrogate: ${c.name}`,
      category: 'surrogate',
      route: c.route,
      req: post(c.path, c.body),
      expect: 'any',
      quick: i === 0 || i === 4,
    }),
  );

  // ---- 9. huge and deep metadata --------------------------------------------------------------
  const doc = (metadata: string, id = 'meta') => `{"documents":[{"id":"${id}","text":"hello","metadata":${metadata}}]}`;
  const deepObject = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
  const deepArray = (n: number) => `{"a":${'['.repeat(n)}${']'.repeat(n)}}`;
  const manyKeys = (n: number) => `{${Array.from({ length: n }, (_, i) => `"${i.toString(36)}":0`).join(',')}}`;
  const meta: { name: string; body: string; expect: Expect; quick?: boolean }[] = [
    { name: 'object nested 5,000 deep', body: doc(deepObject(5000)), expect: 'any', quick: true },
    { name: 'array nested 5,000 deep', body: doc(deepArray(5000)), expect: 'any' },
    { name: 'object nested 100 deep', body: doc(deepObject(100)), expect: 'any' },
    { name: '10,000 keys', body: doc(manyKeys(10_000)), expect: 'any' },
    { name: '5,000 keys', body: doc(manyKeys(5_000)), expect: 'any' },
    { name: 'value of 1 MB', body: doc(`{"v":"${'x'.repeat(1024 * 1024)}"}`), expect: 'error' },
    { name: 'value of 60 KB', body: doc(`{"v":"${'x'.repeat(60 * 1024)}"}`), expect: 'any' },
    { name: 'key of 10,000 characters', body: doc(`{"${'k'.repeat(10_000)}":1}`), expect: 'any' },
    { name: 'metadata is an array', body: doc('[1,2]'), expect: 'error' },
    { name: 'metadata is a string', body: doc('"x"'), expect: 'error' },
    { name: 'metadata is null', body: doc('null'), expect: 'error' },
    { name: '__proto__ key', body: doc('{"__proto__":{"polluted":1}}'), expect: 'any' },
    { name: 'constructor.prototype key', body: doc('{"constructor":{"prototype":{"polluted":1}}}'), expect: 'any' },
    {
      name: '300 documents in one request',
      body: `{"documents":[${Array.from({ length: 300 }, (_, i) => `{"id":"d${i}","text":"t${i}"}`).join(',')}]}`,
      expect: 'error',
    },
    { name: 'duplicate document ids', body: '{"documents":[{"id":"dup","text":"a"},{"id":"dup","text":"b"}]}', expect: 'error' },
    { name: 'document id of 257 characters', body: `{"documents":[{"id":"${'i'.repeat(257)}","text":"a"}]}`, expect: 'error' },
    { name: 'empty document id', body: '{"documents":[{"id":"","text":"a"}]}', expect: 'error' },
    { name: 'empty documents list', body: '{"documents":[]}', expect: 'error' },
  ];
  for (const m of meta)
    add({
      name: `documents: ${m.name}`,
      category: 'metadata',
      route: ROUTES.documents,
      req: post('/v1/documents', m.body),
      expect: m.expect,
      quick: m.quick,
    });

  // ---- 10. whitespace-only text ----------------------------------------------------------------
  const ws: { name: string; route: string; path: string; body: string; quick?: boolean }[] = [
    {
      name: 'chat content " "',
      route: ROUTES.chat,
      path: '/v1/chat/stream',
      body: '{"messages":[{"role":"user","content":" "}],"max_tokens":1}',
      quick: true,
    },
    {
      name: 'chat content "\\n\\t "',
      route: ROUTES.chat,
      path: '/v1/chat/stream',
      body: '{"messages":[{"role":"user","content":"\\n\\t "}],"max_tokens":1}',
    },
    {
      name: 'chat content U+3000',
      route: ROUTES.chat,
      path: '/v1/chat/stream',
      body: '{"messages":[{"role":"user","content":"\\u3000"}],"max_tokens":1}',
    },
    {
      name: 'chat content ""',
      route: ROUTES.chat,
      path: '/v1/chat/stream',
      body: '{"messages":[{"role":"user","content":""}],"max_tokens":1}',
    },
    { name: 'task prompt " "', route: ROUTES.tasks, path: '/v1/tasks', body: '{"prompt":" ","max_steps":2}' },
    { name: 'task prompt "\\n\\n"', route: ROUTES.tasks, path: '/v1/tasks', body: '{"prompt":"\\n\\n","max_steps":2}' },
    { name: 'document text " "', route: ROUTES.documents, path: '/v1/documents', body: '{"documents":[{"id":"ws","text":" "}]}' },
    { name: 'document text ""', route: ROUTES.documents, path: '/v1/documents', body: '{"documents":[{"id":"ws","text":""}]}' },
    { name: 'embeddings input " "', route: ROUTES.embeddings, path: '/v1/embeddings', body: '{"input":" "}' },
    { name: 'embeddings input ["ok", "\\t"]', route: ROUTES.embeddings, path: '/v1/embeddings', body: '{"input":["ok","\\t"]}' },
    { name: 'embeddings input []', route: ROUTES.embeddings, path: '/v1/embeddings', body: '{"input":[]}' },
    { name: 'search query " "', route: ROUTES.search, path: '/v1/search', body: '{"query":" ","k":3}' },
  ];
  for (const w of ws)
    add({
      name: `whitespace-only: ${w.name}`,
      category: 'whitespace',
      route: w.route,
      req: post(w.path, w.body),
      expect: 'error',
      quick: w.quick,
    });

  // ---- 11. numbers out of range, wrong types, floats, NaN-like strings -------------------------
  const badNumbers = [
    '0',
    '-1',
    '1.5',
    '1e309',
    '-1e309',
    '"10"',
    'null',
    'true',
    '[]',
    '{}',
    '"NaN"',
    '"Infinity"',
    '9007199254740993',
    '-0',
  ];
  const bodyNumbers: { field: string; route: string; path: string; body: (v: string) => string; tooBig: string }[] = [
    {
      field: 'max_tokens',
      route: ROUTES.chat,
      path: '/v1/chat/stream',
      body: (v) => `{"messages":[{"role":"user","content":"hi"}],"max_tokens":${v}}`,
      tooBig: '4097',
    },
    { field: 'max_steps', route: ROUTES.tasks, path: '/v1/tasks', body: (v) => `{"prompt":"hi","max_steps":${v}}`, tooBig: '21' },
    { field: 'k', route: ROUTES.search, path: '/v1/search', body: (v) => `{"query":"hello","k":${v}}`, tooBig: '101' },
    {
      field: 'dimensions',
      route: ROUTES.embeddings,
      path: '/v1/embeddings',
      body: (v) => `{"input":"hello","dimensions":${v}}`,
      tooBig: '100000',
    },
  ];
  for (const n of bodyNumbers) {
    [...badNumbers, n.tooBig].forEach((v, i) =>
      add({
        name: `${n.field} = ${v}`,
        category: 'numeric',
        route: n.route,
        req: post(n.path, n.body(v)),
        expect: 'error',
        quick: i === 2,
      }),
    );
  }
  const badCursors: { v: string; expect: Expect }[] = [
    { v: '-2', expect: 'error' },
    { v: '1.5', expect: 'error' },
    { v: 'abc', expect: 'error' },
    { v: '99999999999', expect: 'error' },
    { v: '1e3', expect: 'error' },
    { v: 'NaN', expect: 'error' },
    { v: 'Infinity', expect: 'error' },
    { v: '0x10', expect: 'error' },
    { v: '+5', expect: 'error' },
    { v: '999999999', expect: 'any' },
    { v: ' 5 ', expect: 'any' },
    { v: '-0', expect: 'any' },
  ];
  for (const r of [idRoutes[0]!, idRoutes[3]!]) {
    badCursors.forEach(({ v, expect }, i) => {
      add({
        name: `${r.route}: Last-Event-ID: ${JSON.stringify(v)}`,
        category: 'numeric',
        route: r.route,
        req: get(r.path(r.own), [['Last-Event-ID', v]]),
        expect,
        quick: i === 1,
      });
      add({
        name: `${r.route}: ?after=${encodeURIComponent(v)}`,
        category: 'numeric',
        route: r.route,
        req: get(`${r.path(r.own)}?after=${encodeURIComponent(v)}`),
        expect,
      });
    });
  }

  // ---- 12. auth: missing, malformed, wrong, in the URL, other key's resources -------------------
  const authed = [
    { route: ROUTES.chat, req: post('/v1/chat/stream', JSON.stringify(posts[0].valid), [JSON_CT], 'none') },
    { route: ROUTES.stream, req: get(`/v1/streams/${f.streamA}`, [], 'none') },
    { route: ROUTES.tasks, req: post('/v1/tasks', JSON.stringify(posts[1].valid), [JSON_CT], 'none') },
    { route: ROUTES.task, req: get(`/v1/tasks/${f.taskA}`, [], 'none') },
    { route: ROUTES.taskDelete, req: { method: 'DELETE', path: `/v1/tasks/${f.taskA}`, auth: 'none' } as RawRequest },
    { route: ROUTES.events, req: get(`/v1/tasks/${f.taskA}/events`, [], 'none') },
    { route: ROUTES.embeddings, req: post('/v1/embeddings', JSON.stringify(posts[2].valid), [JSON_CT], 'none') },
    { route: ROUTES.documents, req: post('/v1/documents', JSON.stringify(posts[3].valid), [JSON_CT], 'none') },
    { route: ROUTES.search, req: post('/v1/search', JSON.stringify(posts[4].valid), [JSON_CT], 'none') },
  ];
  for (const a of authed)
    add({
      name: `no Authorization: ${a.route}`,
      category: 'auth',
      route: a.route,
      req: a.req,
      expect: [401],
      quick: a.route === ROUTES.task,
    });
  const wrongKey = `W${f.keys.A.slice(1)}`;
  const taskPath = `/v1/tasks/${f.taskA}`;
  const authHeaders: { name: string; headers: [string, string][]; expect: Expect }[] = [
    { name: 'Bearer with no token', headers: [['Authorization', 'Bearer']], expect: [401] },
    { name: 'Bearer and spaces', headers: [['Authorization', 'Bearer    ']], expect: [401] },
    {
      name: 'Basic credentials',
      headers: [['Authorization', `Basic ${Buffer.from(`u:${f.keys.A}`).toString('base64')}`]],
      expect: [401],
    },
    { name: 'Token scheme', headers: [['Authorization', `Token ${f.keys.A}`]], expect: [401] },
    { name: 'wrong key of the same length', headers: [['Authorization', `Bearer ${wrongKey}`]], expect: [401] },
    { name: 'key plus one character', headers: [['Authorization', `Bearer ${f.keys.A}x`]], expect: [401] },
    { name: 'key prefix (first 31 chars)', headers: [['Authorization', `Bearer ${f.keys.A.slice(0, 31)}`]], expect: [401] },
    { name: 'key, a space and junk', headers: [['Authorization', `Bearer ${f.keys.A} junk`]], expect: [401] },
    { name: 'token of 8 KB', headers: [['Authorization', `Bearer ${'k'.repeat(8192)}`]], expect: [401] },
    { name: 'lower-case "bearer" scheme', headers: [['Authorization', `bearer ${f.keys.A}`]], expect: 'any' },
    {
      name: 'two Authorization headers (wrong, then right)',
      headers: [
        ['Authorization', `Bearer ${wrongKey}`],
        ['Authorization', `Bearer ${f.keys.A}`],
      ],
      expect: 'any',
    },
    {
      name: 'two Authorization headers (right, then wrong)',
      headers: [
        ['Authorization', `Bearer ${f.keys.A}`],
        ['Authorization', `Bearer ${wrongKey}`],
      ],
      expect: 'any',
    },
  ];
  for (const h of authHeaders)
    add({
      name: `GET /v1/tasks/:id: ${h.name}`,
      category: 'auth',
      route: ROUTES.task,
      req: { method: 'GET', path: taskPath, headers: h.headers, auth: 'none' },
      expect: h.expect,
    });
  add({
    name: 'key in ?key= on GET /v1/streams/:id (no header)',
    category: 'auth',
    route: ROUTES.stream,
    req: get(`/v1/streams/${f.streamA}?key=${encodeURIComponent(f.keys.A)}`, [], 'none'),
    expect: 'any',
    quick: true,
    check: (o) =>
      o.class === '2xx' ? 'bearer key accepted from the URL (?key=): keys end up in access logs and history' : undefined,
  });
  add({
    name: 'key in ?key= on GET /v1/tasks/:id (no header)',
    category: 'auth',
    route: ROUTES.task,
    req: get(`${taskPath}?key=${encodeURIComponent(f.keys.A)}`, [], 'none'),
    expect: [401],
  });
  add({
    name: 'key in ?key= on POST /v1/chat/stream (no header)',
    category: 'auth',
    route: ROUTES.chat,
    req: post(`/v1/chat/stream?key=${encodeURIComponent(f.keys.A)}`, JSON.stringify(posts[0].valid), [JSON_CT], 'none'),
    expect: [401],
  });
  add({
    name: 'wrong ?key= with no header on GET /v1/streams/:id',
    category: 'auth',
    route: ROUTES.stream,
    req: get(`/v1/streams/${f.streamA}?key=${wrongKey}`, [], 'none'),
    expect: [401],
  });
  const others: { name: string; route: string; req: RawRequest }[] = [
    { name: "A reads B's stream", route: ROUTES.stream, req: get(`/v1/streams/${f.streamB}`) },
    {
      name: "A resumes B's stream with Last-Event-ID",
      route: ROUTES.stream,
      req: get(`/v1/streams/${f.streamB}`, [['Last-Event-ID', '1']]),
    },
    { name: "B reads A's stream", route: ROUTES.stream, req: get(`/v1/streams/${f.streamA}`, [], 'B') },
    { name: "A reads B's task", route: ROUTES.task, req: get(`/v1/tasks/${f.taskB}`) },
    { name: "A cancels B's task", route: ROUTES.taskDelete, req: { method: 'DELETE', path: `/v1/tasks/${f.taskB}` } },
    { name: "A follows B's task events", route: ROUTES.events, req: get(`/v1/tasks/${f.taskB}/events`) },
    { name: "B reads A's task", route: ROUTES.task, req: get(`/v1/tasks/${f.taskA}`, [], 'B') },
  ];
  for (const o of others)
    add({
      name: `other key's resource: ${o.name}`,
      category: 'auth',
      route: o.route,
      req: o.req,
      expect: [404],
      quick: o.route === ROUTES.stream,
    });
  add({
    name: "other key's documents: A searches for B's document text",
    category: 'auth',
    route: ROUTES.search,
    req: post('/v1/search', JSON.stringify({ query: f.docBMarker, k: 100 })),
    expect: 'any',
    check: (o) => (o.body.includes(f.docBMarker) ? "search returned another key's document" : undefined),
  });

  // ---- 13. protocol: framing, header injection, huge headers, odd request lines ----------------
  const valid = JSON.stringify(posts[1].valid);
  const auth = `Authorization: Bearer ${f.keys.A}\r\n`;
  const raw = (s: string) => Buffer.from(s, 'latin1');
  const protocol: {
    name: string;
    route: string;
    req: RawRequest;
    expect: Expect;
    quick?: boolean;
    timeoutMs?: number;
    check?: Case['check'];
  }[] = [
    {
      name: 'header value with a bare CR',
      route: ROUTES.task,
      req: { method: 'GET', path: taskPath, headers: [['X-Test', 'a\rb']] },
      expect: 'error',
    },
    {
      name: 'header value with a bare LF (injection attempt)',
      route: ROUTES.task,
      req: { method: 'GET', path: taskPath, headers: [['X-Test', 'a\nInjected: yes']] },
      expect: 'error',
    },
    {
      name: 'header name with a space',
      route: ROUTES.task,
      req: { method: 'GET', path: taskPath, headers: [['Bad Header', 'x']] },
      expect: 'error',
    },
    {
      name: 'obs-fold continuation line',
      route: ROUTES.task,
      req: {
        raw: raw(`GET ${taskPath} HTTP/1.1\r\nHost: x\r\n${auth}X-Fold: a\r\n  b\r\nConnection: close\r\n\r\n`),
        method: 'GET',
        path: taskPath,
      },
      expect: 'any',
    },
    {
      name: 'NUL byte in a header value',
      route: ROUTES.stream,
      req: { method: 'GET', path: `/v1/streams/${f.streamA}`, headers: [['Last-Event-ID', '1\x002']] },
      expect: 'error',
    },
    {
      name: 'CRLF via ?after= (response splitting)',
      route: ROUTES.stream,
      req: get(`/v1/streams/${f.streamA}?after=1%0d%0aSet-Cookie:%20x=1`),
      expect: 'error',
      check: (o) => (o.headers['set-cookie'] ? 'response splitting: Set-Cookie injected' : undefined),
    },
    {
      name: 'one header of 20 KB',
      route: ROUTES.task,
      req: { method: 'GET', path: taskPath, headers: [['X-Big', 'x'.repeat(20 * 1024)]] },
      expect: 'error',
    },
    {
      name: '200 headers of 100 bytes',
      route: ROUTES.task,
      req: {
        method: 'GET',
        path: taskPath,
        headers: Array.from({ length: 200 }, (_, i) => [`X-H${i}`, 'v'.repeat(100)] as [string, string]),
      },
      expect: 'error',
    },
    { name: 'URL of 15 KB', route: ROUTES.task, req: get(`${taskPath}?q=${'x'.repeat(15 * 1024)}`), expect: 'any' },
    {
      name: 'two different Content-Length headers',
      route: ROUTES.tasks,
      req: post('/v1/tasks', valid, [JSON_CT, ['Content-Length', String(valid.length)], ['Content-Length', '5']]),
      expect: 'error',
      quick: true,
    },
    {
      name: 'two equal Content-Length headers',
      route: ROUTES.tasks,
      req: post('/v1/tasks', valid, [
        JSON_CT,
        ['Content-Length', String(valid.length)],
        ['Content-Length', String(valid.length)],
      ]),
      expect: 'any',
    },
    {
      name: 'Content-Length and Transfer-Encoding: chunked',
      route: ROUTES.tasks,
      req: post('/v1/tasks', `${valid.length.toString(16)}\r\n${valid}\r\n0\r\n\r\n`, [
        JSON_CT,
        ['Content-Length', '4'],
        ['Transfer-Encoding', 'chunked'],
      ]),
      expect: 'error',
    },
    {
      name: 'chunked with an invalid chunk size',
      route: ROUTES.tasks,
      req: post('/v1/tasks', 'zz\r\n{}\r\n0\r\n\r\n', [JSON_CT, ['Transfer-Encoding', 'chunked']]),
      expect: 'error',
    },
    {
      name: 'valid chunked body',
      route: ROUTES.tasks,
      req: post('/v1/tasks', `${valid.length.toString(16)}\r\n${valid}\r\n0\r\n\r\n`, [
        JSON_CT,
        ['Transfer-Encoding', 'chunked'],
      ]),
      expect: 'any',
    },
    {
      name: 'Transfer-Encoding: gzip (not chunked)',
      route: ROUTES.tasks,
      req: post('/v1/tasks', valid, [JSON_CT, ['Transfer-Encoding', 'gzip']], 'A'),
      expect: 'error',
    },
    {
      name: 'negative Content-Length',
      route: ROUTES.tasks,
      req: post('/v1/tasks', valid, [JSON_CT, ['Content-Length', '-5']]),
      expect: 'error',
    },
    {
      name: 'Content-Length "+5"',
      route: ROUTES.tasks,
      req: post('/v1/tasks', valid, [JSON_CT, ['Content-Length', '+5']]),
      expect: 'error',
    },
    {
      name: 'Content-Length not a number',
      route: ROUTES.tasks,
      req: post('/v1/tasks', valid, [JSON_CT, ['Content-Length', 'ten']]),
      expect: 'error',
    },
    {
      name: 'body shorter than Content-Length (no request deadline)',
      route: ROUTES.tasks,
      req: post('/v1/tasks', '{"prompt":', [JSON_CT, ['Content-Length', '100']]),
      expect: 'error',
      quick: true,
    },
    {
      name: 'body longer than Content-Length (pipelined garbage)',
      route: ROUTES.tasks,
      req: post('/v1/tasks', `${valid}GARBAGE / HTTP/1.1\r\n\r\n`, [JSON_CT, ['Content-Length', String(valid.length)]]),
      expect: 'any',
    },
    {
      name: 'HTTP/1.1 without Host',
      route: ROUTES.task,
      req: { raw: raw(`GET ${taskPath} HTTP/1.1\r\n${auth}Connection: close\r\n\r\n`), method: 'GET', path: taskPath },
      expect: 'error',
    },
    {
      name: 'HTTP/1.0 without Host',
      route: ROUTES.task,
      req: { raw: raw(`GET ${taskPath} HTTP/1.0\r\n${auth}\r\n`), method: 'GET', path: taskPath },
      expect: 'any',
    },
    {
      name: 'absolute-form request target',
      route: ROUTES.task,
      req: { method: 'GET', path: `http://evil.example${taskPath}` },
      expect: 'any',
    },
    { name: 'asterisk-form OPTIONS *', route: ROUTES.any, req: { method: 'OPTIONS', path: '*' }, expect: 'error' },
    { name: 'unknown method FOO', route: ROUTES.any, req: { method: 'FOO', path: taskPath }, expect: 'error' },
    { name: 'TRACE', route: ROUTES.task, req: { method: 'TRACE', path: taskPath }, expect: 'error' },
    {
      name: 'CONNECT',
      route: ROUTES.any,
      req: {
        raw: raw(`CONNECT 127.0.0.1:5432 HTTP/1.1\r\nHost: 127.0.0.1:5432\r\n${auth}\r\n`),
        method: 'CONNECT',
        path: '127.0.0.1:5432',
      },
      expect: 'error',
    },
    {
      name: 'garbage request line',
      route: ROUTES.any,
      req: { raw: raw('HELLO THERE\r\n\r\n'), method: 'HELLO', path: '' },
      expect: 'error',
    },
    {
      name: 'HTTP/2 prior-knowledge preface',
      route: ROUTES.any,
      req: { raw: raw('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), method: 'PRI', path: '*' },
      expect: 'error',
    },
    {
      name: 'HTTP/3.0 version',
      route: ROUTES.any,
      req: { raw: raw(`GET ${taskPath} HTTP/3.0\r\nHost: x\r\n${auth}\r\n`), method: 'GET', path: taskPath },
      expect: 'error',
    },
    {
      name: 'Expect: 100-continue',
      route: ROUTES.tasks,
      req: post('/v1/tasks', valid, [JSON_CT, ['Expect', '100-continue']]),
      expect: 'any',
    },
    {
      name: 'Expect: something-else',
      route: ROUTES.tasks,
      req: post('/v1/tasks', valid, [JSON_CT, ['Expect', 'something-else']]),
      expect: 'error',
    },
    { name: 'unknown route under /v1', route: ROUTES.any, req: get('/v1/nothing-here'), expect: [404] },
    { name: 'unknown route outside /v1', route: ROUTES.any, req: get('/nothing-here', [], 'none'), expect: [404] },
    { name: 'route with a double slash', route: ROUTES.any, req: get(`/v1//tasks/${f.taskA}`), expect: 'any' },
    { name: 'route with /v1/v1 prefix', route: ROUTES.any, req: get(`/v1/v1/streams/${f.streamA}`), expect: [404] },
    { name: 'trailing slash on /v1/tasks/:id/', route: ROUTES.task, req: get(`${taskPath}/`), expect: 'any' },
    { name: 'upper-case path /V1/TASKS/:id', route: ROUTES.task, req: get(`/V1/TASKS/${f.taskA}`), expect: 'any' },
  ];
  for (const p of protocol)
    add({
      name: p.name,
      category: 'protocol',
      route: p.route,
      req: p.req,
      expect: p.expect,
      quick: p.quick,
      timeoutMs: p.timeoutMs,
      check: p.check,
    });

  return cases;
}

/** One case per (category, route) plus those marked quick: a representative subset. */
export function quickSubset(cases: readonly Case[]): Case[] {
  const seen = new Set<string>();
  return cases.filter((c) => {
    const k = `${c.category}|${c.route}`;
    const first = !seen.has(k);
    seen.add(k);
    return first || c.quick === true;
  });
}
