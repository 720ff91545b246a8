import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresInstance } from '../../testkit/postgres.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

const DOCS = [
  {
    id: 'db',
    text: 'PostgreSQL stores rows in tables; an index makes SQL queries on large tables fast.',
    metadata: { topic: 'databases' },
  },
  {
    id: 'bread',
    text: 'Knead the dough, let it rise, then bake the bread in a hot oven until golden.',
    metadata: { topic: 'cooking' },
  },
  { id: 'k8s', text: 'Kubernetes sends SIGTERM to a pod and waits for the grace period before killing its containers.' },
  { id: 'weather', text: 'Heavy rain and strong winds are forecast as the storm reaches the coast tonight.' },
  { id: 'guitar', text: 'She tuned her guitar and played a song for the audience at the concert.' },
];
const QUERIES: [string, string][] = [
  ['which SQL index speeds up my database query?', 'db'],
  ['how long should I bake a loaf of bread?', 'bread'],
  ['what happens to a pod when kubernetes terminates it?', 'k8s'],
  ['will there be a storm with rain tonight?', 'weather'],
  ['a musician performing songs on stage', 'guitar'],
];
const KEY_A = 'key-a-0123456789abcdefghij';
const KEY_B = 'key-b-0123456789abcdefghij';

async function call(svc: ServiceProcess, path: string, body: unknown, key = KEY_A) {
  const res = await fetch(`${svc.url}/v1${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

function scenarios(name: string, env: () => Record<string, string>) {
  describe(`documents and search (${name})`, () => {
    let svc: ServiceProcess;
    beforeAll(async () => {
      svc = await startService({ API_KEYS: `${KEY_A},${KEY_B}`, ...env() });
    });
    afterAll(() => svc?.kill('SIGKILL'));

    it('upserts documents, counting inserts and updates', async () => {
      expect((await call(svc, '/documents', { documents: DOCS })).body).toEqual({ object: 'list', inserted: 5, updated: 0 });
      const again = await call(svc, '/documents', {
        documents: [DOCS[0], { id: 'new', text: 'a brand new note about nothing much' }],
      });
      expect(again.body).toEqual({ object: 'list', inserted: 1, updated: 1 });
    });

    it('returns the most related document first, with cosine scores in order and its metadata', async () => {
      for (const [query, expected] of QUERIES) {
        const { status, body } = await call(svc, '/search', { query, k: 3 });
        expect(status).toBe(200);
        const results = body.results as { id: string; score: number; text: string; metadata: Record<string, unknown> }[];
        expect(results, query).toHaveLength(3);
        expect(results[0]!.id, query).toBe(expected);
        expect(results[0]!.score).toBeLessThanOrEqual(1.0001);
        for (let i = 1; i < results.length; i++) expect(results[i - 1]!.score).toBeGreaterThanOrEqual(results[i]!.score);
        const doc = DOCS.find((d) => d.id === expected)!;
        expect(results[0]!.text).toBe(doc.text);
        expect(results[0]!.metadata).toEqual(doc.metadata ?? {});
      }
    });

    it("keeps each key's documents to itself", async () => {
      expect((await call(svc, '/search', { query: 'bread', k: 5 }, KEY_B)).body.results).toEqual([]);
      await call(svc, '/documents', { documents: [{ id: 'db', text: 'bread and butter' }] }, KEY_B);
      const a = await call(svc, '/search', { query: 'database index', k: 1 });
      expect(a.body.results[0].text).toBe(DOCS[0]!.text);
      const b = await call(svc, '/search', { query: 'database index', k: 10 }, KEY_B);
      expect(b.body.results.map((r: { id: string }) => r.id)).toEqual(['db']);
    });

    it('refuses bad input with 400 naming the problem', async () => {
      const cases: [string, unknown, string, RegExp][] = [
        ['/documents', { documents: [] }, 'invalid_request', /at least one document/],
        [
          '/documents',
          {
            documents: [
              { id: 'a', text: 'x' },
              { id: 'a', text: 'y' },
            ],
          },
          'duplicate_id',
          /"a" appears twice/,
        ],
        ['/documents', { documents: [{ id: 'a', text: ' ' }] }, 'empty_input', /documents\[0\]\.text is empty/],
        [
          '/documents',
          { documents: [{ id: 'a', text: 'x'.repeat(8193) }] },
          'input_too_long',
          /documents\[0\]\.text .*at most 8192/,
        ],
        [
          '/documents',
          { documents: Array.from({ length: 257 }, (_, i) => ({ id: `d${i}`, text: 'x' })) },
          'too_many_inputs',
          /at most 256/,
        ],
        ['/search', { query: '' }, 'empty_input', /query is empty/],
        ['/search', { query: 'x', k: 0 }, 'invalid_request', /^k:/],
        ['/search', { query: 'x', k: 101 }, 'invalid_request', /^k:/],
      ];
      for (const [path, body, code, message] of cases) {
        const res = await call(svc, path, body);
        expect(res.status, `${path} ${JSON.stringify(body).slice(0, 60)}`).toBe(400);
        expect(res.body.error.code).toBe(code);
        expect(res.body.error.message).toMatch(message);
      }
    });
  });
}

scenarios('embedded PGlite', () => ({}));

let pg: PostgresInstance | undefined;
beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);
afterAll(async () => pg?.stop());
scenarios('real PostgreSQL with pgvector', () => ({ DATABASE_URL: pg!.url }));
