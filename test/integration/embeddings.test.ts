import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runServiceToExit, startService, type ServiceProcess } from '../../testkit/service.js';

interface EmbeddingResponse {
  object: string;
  data: { object: string; index: number; embedding: number[] | string }[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

const shipped = createRequire(import.meta.url)('@lastcall/embedding-model') as {
  modelDir: string;
  modelId: string;
  dims: number;
};

/** anchor, a paraphrase on the same subject, and a sentence about something else. */
const TRIPLES: [string, string, string][] = [
  [
    'The database server refused new connections.',
    'PostgreSQL is not accepting any more client sessions.',
    'We baked fresh bread this morning.',
  ],
  [
    'My cat sleeps on the sofa all day.',
    'The kitten naps on the couch every afternoon.',
    'The compiler reported a syntax error.',
  ],
  [
    'It will rain heavily tomorrow with strong winds.',
    'A storm with showers and gusts is forecast for tomorrow.',
    'She plays the violin in an orchestra.',
  ],
  [
    'He plays guitar in a rock band.',
    'The musician performs songs on his electric guitar.',
    'The bank raised interest rates on loans.',
  ],
  [
    'The kernel crashed after the driver update.',
    'A faulty device driver made the operating system panic.',
    'The children built a sandcastle on the beach.',
  ],
  [
    'Preheat the oven and bake the cake for forty minutes.',
    'Cook the batter in a hot oven until the cake is done.',
    'The train to the airport was delayed.',
  ],
  [
    'The team won the football match in extra time.',
    'The soccer club scored the winning goal late in the game.',
    'Install the package with the apt command.',
  ],
  [
    'The doctor prescribed antibiotics for the infection.',
    'The physician gave the patient medicine to treat the bacteria.',
    'The painter mixed blue and yellow paint.',
  ],
  [
    'Stock prices fell sharply on the market today.',
    'Shares dropped as investors sold on the exchange.',
    'The bird built its nest in the tree.',
  ],
  [
    'The airplane landed safely at the airport.',
    'The flight touched down on the runway without trouble.',
    'Add salt and pepper to the soup.',
  ],
  [
    'Encrypt the password before storing it.',
    'Hash user credentials so secrets are not kept in plain text.',
    'The river flooded the valley after the snow melted.',
  ],
  [
    'The students passed their mathematics exam.',
    'The pupils did well on the algebra test at school.',
    'The ship sailed across the ocean.',
  ],
];

const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('POST /v1/embeddings on a real process with the shipped model', () => {
  let svc: ServiceProcess;
  beforeAll(async () => {
    svc = await startService();
  });
  afterAll(() => svc?.kill('SIGKILL'));

  const post = async (body: unknown) => {
    const res = await fetch(`${svc.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      body: (await res.json()) as EmbeddingResponse & {
        error?: { code: string; message: string; param?: string | null; type?: string };
      },
    };
  };

  it('answers in the OpenAI shape with unit vectors and token usage', async () => {
    const { status, body } = await post({ input: ['hello world', 'the database is down'], model: shipped.modelId });
    expect(status).toBe(200);
    expect(body.object).toBe('list');
    expect(body.model).toBe(shipped.modelId);
    expect(body.data.map((d) => [d.object, d.index])).toEqual([
      ['embedding', 0],
      ['embedding', 1],
    ]);
    for (const d of body.data) {
      const v = d.embedding as number[];
      expect(v).toHaveLength(shipped.dims);
      expect(dot(v, v)).toBeCloseTo(1, 4);
    }
    // [CLS] hello world [SEP] + [CLS] the database is down [SEP]
    expect(body.usage).toEqual({ prompt_tokens: 10, total_tokens: 10 });
    const single = await post({ input: 'hello world' });
    expect(single.body.data).toHaveLength(1);
    expect(single.body.data[0]!.embedding).toEqual(body.data[0]!.embedding);
  });

  it('encodes float32 little-endian base64 when asked (the openai SDK default)', async () => {
    const float = await post({ input: 'base64 please' });
    const b64 = await post({ input: 'base64 please', encoding_format: 'base64' });
    const buf = Buffer.from(b64.body.data[0]!.embedding as string, 'base64');
    const decoded = Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4));
    // Float JSON carries the nine digits that identify each float32, not the widened double's 17.
    expect(decoded).toEqual((float.body.data[0]!.embedding as number[]).map(Math.fround));
  });

  it(`scores related sentences above unrelated ones (${TRIPLES.length} checks)`, async () => {
    const { body } = await post({ input: TRIPLES.flat() });
    const v = body.data.map((d) => d.embedding as number[]);
    const failures: string[] = [];
    TRIPLES.forEach(([anchor], i) => {
      const [a, r, u] = [v[3 * i]!, v[3 * i + 1]!, v[3 * i + 2]!];
      const related = dot(a, r);
      const unrelated = dot(a, u);
      if (!(related > unrelated)) failures.push(`${anchor}: related ${related.toFixed(3)} <= unrelated ${unrelated.toFixed(3)}`);
    });
    expect(failures).toEqual([]);
  });

  it('refuses bad input with 400 naming the limit', async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ input: [] }, 'empty_input', /at least one text/],
      [{ input: '' }, 'empty_input', /input\[0\] is empty/],
      [{ input: ['ok', '   '] }, 'empty_input', /input\[1\] is empty/],
      [{ input: Array.from({ length: 257 }, () => 'x') }, 'too_many_inputs', /257 texts; at most 256/],
      [{ input: ['x'.repeat(8193)] }, 'input_too_long', /8193 characters; at most 8192/],
      [{ input: [1, 2, 3] }, 'invalid_request', /input: must be a string or an array of strings/],
      [{}, 'invalid_request', /input/],
      [{ input: 'x', dimensions: 1536 }, 'unsupported_dimensions', /dimensions must be 128/],
    ];
    for (const [body, code, message] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.body.error?.code).toBe(code);
      expect(res.body.error?.message).toMatch(message);
    }
    // OpenAI's answer to a model it does not serve: 404 model_not_found, naming the parameter.
    const unknown = await post({ input: 'x', model: 'text-embedding-3-small' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'model_not_found', param: 'model', type: 'invalid_request_error' });
    expect(unknown.body.error?.message).toMatch(/embeds with lastcall-mini-embed/);
    const wrongMethod = await fetch(`${svc.url}/v1/embeddings`);
    expect(wrongMethod.status).toBe(405);
  });

  it('reports the loaded model on the admin port', async () => {
    const metrics = await (await fetch(`${svc.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^lastcall_embedding_model_loaded\{[^}]*\} 1$/m);
    const bytes = Number(/^lastcall_embedding_model_bytes\{[^}]*\} (\d+)$/m.exec(metrics)?.[1]);
    expect(bytes).toBe(fs.statSync(path.join(shipped.modelDir, 'onnx/model_quantized.onnx')).size);
  });
});

describe('an unusable EMBEDDING_MODEL_DIR stops start-up with exit 1 and one readable line', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lastcall-bad-model-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const base = (dir: string) => ({ EMBEDDING_MODEL_DIR: dir, DATA_DIR: fs.mkdtempSync(path.join(tmp, 'data-')) });

  it('a folder that does not exist', async () => {
    const { code, stderr } = await runServiceToExit(base(path.join(tmp, 'no-such-model')));
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([
      `lastcall: embedding model folder ${path.join(tmp, 'no-such-model')} does not exist (EMBEDDING_MODEL_DIR)`,
    ]);
  });

  it('a folder without model files (never a hub download)', async () => {
    const empty = fs.mkdtempSync(path.join(tmp, 'empty-'));
    const { code, stderr } = await runServiceToExit(base(empty));
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^lastcall: embedding model in ${empty} could not be loaded: .*config\\.json`));
  });

  it('a corrupt ONNX file', async () => {
    const corrupt = path.join(tmp, 'corrupt');
    fs.cpSync(shipped.modelDir, corrupt, { recursive: true, dereference: true });
    const onnx = path.join(corrupt, 'onnx/model_quantized.onnx');
    fs.writeFileSync(onnx, fs.readFileSync(onnx).subarray(0, 4096));
    const { code, stderr } = await runServiceToExit(base(corrupt));
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^lastcall: embedding model in ${corrupt} could not be loaded: .*(Protobuf parsing failed|failed)`),
    );
  });
});
