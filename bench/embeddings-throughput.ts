/**
 * Embedding throughput and memory, printed as figures with their targets in brackets.
 *
 *   npm run build && npx tsx bench/embeddings-throughput.ts [seconds-per-run] [--throughput-only]
 *   (seconds per throughput run, default 1; BENCH_ROUNDS: rounds, default 20; BENCH_CLIENTS:
 *   concurrent HTTP clients, default 8; EMBEDDING_MODEL_DIR: another model)
 *
 * 1. Memory: for each allocator / ONNX Runtime setting, a fresh child process loads the shipped
 *    model, embeds, disposes it, and reports RSS and external memory (baseline, loaded, after
 *    use, after unload); the last setting loads it on a worker thread as the service does
 *    (dist/, so build first). Target: at least 90 % of the model's bytes come back after unload.
 * 2. Throughput at batch 32: the raw pipeline in this process (one call at a time, on this
 *    thread) vs the HTTP API of the built service (a real process whose model runs on a thread
 *    of its own, several concurrent clients), on PostgreSQL and on embedded PGlite, in rounds
 *    that alternate the sides. Target: HTTP ≥ 0.9 × raw (median of the rounds' ratios). Also
 *    the admin /livez answer time during the float runs (which pay for the probes): what the
 *    event loop's other work (SSE streams, probes) waits.
 */
import type * as ThreadedModel from '../src/embeddings/threaded-model.js';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { collectGarbage, memorySnapshot, type MemorySnapshot } from '../src/embeddings/memory.js';
import { locateModel, type ModelLocation } from '../src/embeddings/location.js';
import { loadEmbeddingModel, SESSION_OPTIONS, type EmbeddingModel } from '../src/embeddings/model.js';
import { startPostgres } from '../testkit/postgres.js';
import { ROOT, startService } from '../testkit/service.js';
import { LeanConnection } from './lean-http.js';
import { percentile } from './streams-support.js';

const BATCH = 32;
const SECONDS = Number(process.argv.find((a) => /^\d+(\.\d+)?$/.test(a)) ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const MiB = 1024 * 1024;

const WORDS = (
  'the database refused new connections because the pool was full while the kubernetes pod drained ' +
  'its requests and the model answered every query about bread baking guitars weather storms and rivers ' +
  'a small cat slept on the warm mat as the server restarted after the deploy finished late at night'
).split(' ');
const text = (i: number) => Array.from({ length: 12 + (i % 13) }, (_, j) => WORDS[(i * 7 + j * 11) % WORDS.length]).join(' ');
const batch = (n: number) => Array.from({ length: BATCH }, (_, i) => text(n * BATCH + i));

interface MemoryRun {
  loadMs: number;
  weightBytes: number;
  baseline: MemorySnapshot;
  loaded: MemorySnapshot;
  used: MemorySnapshot;
  /** Right after dispose, before any collection: the ONNX session's own memory. */
  disposed: MemorySnapshot;
  after: MemorySnapshot;
}

/** Child mode: one load → use → unload cycle, reported as JSON on stdout. */
async function memoryChild(): Promise<void> {
  const arena = process.env.BENCH_ORT_ARENA === '1';
  // collectGarbage's timer never holds the process open (at shutdown it must not); here it must.
  const keepAlive = setInterval(() => undefined, 1000);
  const settle = async () => collectGarbage(300);
  await settle();
  const baseline = memorySnapshot();
  const location = locateModel(process.env.EMBEDDING_MODEL_DIR);
  const model =
    process.env.BENCH_ON_THREAD === '1'
      ? await loadOnThread(location)
      : await loadEmbeddingModel(location, { ...SESSION_OPTIONS, enableCpuMemArena: arena });
  await settle();
  const loaded = memorySnapshot();
  for (let n = 0; n < 40; n++) await model.embed(batch(n));
  await settle();
  const used = memorySnapshot();
  await model.dispose();
  const disposed = memorySnapshot();
  await settle();
  const after = memorySnapshot();
  const run: MemoryRun = { loadMs: model.loadMs, weightBytes: model.weightBytes, baseline, loaded, used, disposed, after };
  process.stdout.write(JSON.stringify(run));
  clearInterval(keepAlive);
}

/** The service's own loader, from its build: the thread's entry point exists only as JavaScript. */
async function loadOnThread(location: ModelLocation): Promise<EmbeddingModel> {
  const built = pathToFileURL(path.join(ROOT, 'dist/embeddings/threaded-model.js')).href;
  const { loadEmbeddingModelOnThread } = (await import(built)) as typeof ThreadedModel;
  return loadEmbeddingModelOnThread(location, {
    onFailure(err) {
      throw err;
    },
  });
}

function runChild(env: Record<string, string>): Promise<MemoryRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--memory-child'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as MemoryRun) : reject(new Error(`memory child exited ${code}`)),
    );
  });
}

const SETTINGS: { name: string; env: Record<string, string> }[] = [
  { name: 'glibc defaults, ORT arena on', env: { BENCH_ORT_ARENA: '1' } },
  { name: 'glibc defaults, ORT arena off (shipped)', env: {} },
  { name: 'MALLOC_ARENA_MAX=2, arena off', env: { MALLOC_ARENA_MAX: '2' } },
  { name: 'MALLOC_TRIM_THRESHOLD_=131072, arena off', env: { MALLOC_TRIM_THRESHOLD_: '131072' } },
  { name: 'MALLOC_MMAP_THRESHOLD_=131072, arena off', env: { MALLOC_MMAP_THRESHOLD_: '131072' } },
  {
    name: 'ARENA_MAX=2 + TRIM + MMAP thresholds, arena off',
    env: { MALLOC_ARENA_MAX: '2', MALLOC_TRIM_THRESHOLD_: '131072', MALLOC_MMAP_THRESHOLD_: '131072' },
  },
  {
    name: 'MALLOC_TRIM_THRESHOLD_=131072, on a worker thread (the service)',
    env: { MALLOC_TRIM_THRESHOLD_: '131072', BENCH_ON_THREAD: '1' },
  },
];

const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`;

async function memoryReport(): Promise<void> {
  console.log('\n== memory: load → 40 batches → dispose, one fresh process per setting');
  for (const s of SETTINGS) {
    const r = await runChild(s.env);
    const rssReturned = r.used.rss - r.after.rss;
    const extReturned = r.used.external - r.after.external;
    const pct = (100 * rssReturned) / r.weightBytes;
    const atDispose = r.used.rss - r.disposed.rss;
    console.log(
      `${s.name}\n` +
        `  model ${mib(r.weightBytes)} loaded in ${r.loadMs.toFixed(0)} ms | ` +
        `RSS baseline ${mib(r.baseline.rss)}, loaded ${mib(r.loaded.rss)}, after use ${mib(r.used.rss)}, after unload ${mib(r.after.rss)} | ` +
        `external loaded ${mib(r.loaded.external)}, after unload ${mib(r.after.external)}\n` +
        `  returned at unload: RSS ${mib(rssReturned)} = ${pct.toFixed(0)} % of the model's bytes [≥ 90 %]` +
        ` (${mib(atDispose)} at dispose, before GC)` +
        `, external ${mib(extReturned)}; still above baseline: RSS ${mib(r.after.rss - r.baseline.rss)}`,
    );
  }
}

/** CPU time (user + system, all threads) of a process so far, in ms; Linux /proc. */
function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

interface Rate {
  readonly perSecond: number;
  /** CPU of the measured process per embedding, µs. */
  readonly cpuUs: number;
  /** This process's CPU per call, µs: for HTTP runs, the load generator's cost per request. */
  readonly ownUsPerCall: number;
}

/** Runs `work` (given its loop's index) for `ms` on `concurrency` loops. */
async function rate(pid: number, work: (loop: number) => Promise<number>, concurrency = 1, ms = SECONDS * 1000): Promise<Rate> {
  const started = performance.now();
  const cpu0 = cpuMs(pid);
  const own0 = process.cpuUsage();
  let done = 0;
  let calls = 0;
  const loop = async (i: number) => {
    while (performance.now() - started < ms) {
      const n = await work(i); // not `done += await work()`: that reads `done` before the await
      done += n;
      calls++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
  const own = process.cpuUsage(own0);
  return {
    perSecond: done / ((performance.now() - started) / 1000),
    cpuUs: ((cpuMs(pid) - cpu0) * 1000) / done,
    ownUsPerCall: (own.user + own.system) / calls,
  };
}

/**
 * Warm-up runs (figures dropped) before measuring. Measured: HTTP runs right after 1.5 s of
 * warm-up were still ~5-15 % slower than later ones.
 */
const WARM_UP_MS = 4000;

/** Answer times of the admin server's /livez while `until` runs: how long the event loop makes a probe wait. */
async function probeWhile(adminUrl: string, until: Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  let running = true;
  void until.finally(() => (running = false));
  while (running) {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) =>
      http.get(`${adminUrl}/livez`, (res) => res.resume().on('end', resolve)).on('error', reject),
    );
    times.push(performance.now() - t0);
    await sleep(20);
  }
  return times;
}

/**
 * This VM's two cores slow each other down: the raw pipeline runs slower while another process
 * busy-loops on the other core. The HTTP runs need that core for the service's event loop and
 * the load generator, so this figure says how much of a ratio below 1 the machine explains. One
 * spinner, paused and resumed, so that each round's two runs differ only in it.
 */
async function coRunPenalty(raw: () => Promise<number>): Promise<number[]> {
  const spinner = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  const ratios: number[] = [];
  try {
    for (let round = 0; round < ROUNDS / 2; round++) {
      spinner.kill('SIGSTOP');
      const alone = await rate(process.pid, raw);
      spinner.kill('SIGCONT');
      ratios.push((await rate(process.pid, raw)).perSecond / alone.perSecond);
    }
  } finally {
    spinner.kill('SIGKILL');
  }
  return ratios;
}

const spread = (xs: number[], digits: number) =>
  `median ${percentile(xs, 50).toFixed(digits)} (quartiles ${percentile(xs, 25).toFixed(digits)}–${percentile(xs, 75).toFixed(digits)})`;

type Side = 'raw' | 'float' | 'base64';
const SIDES: readonly Side[] = ['raw', 'float', 'base64'];

async function throughputReport(): Promise<void> {
  console.log(
    `\n== throughput at batch ${BATCH}: ${ROUNDS} rounds of ${SECONDS} s runs (raw, float JSON, base64), ${CLIENTS} HTTP clients`,
  );
  const model = await loadEmbeddingModel(locateModel(process.env.EMBEDDING_MODEL_DIR));
  console.log(`  model ${model.id}: ${model.dims} dims, ${mib(model.weightBytes)}, loaded in ${model.loadMs.toFixed(0)} ms`);
  const pg = await startPostgres();
  let n = 0;
  const raw = async () => (await model.embed(batch(n++))).vectors.length;
  try {
    // PostgreSQL is the multi-replica set-up; embedded PGlite runs its WASM database on the
    // service's own event loop (pollers included).
    for (const [label, env] of [
      ['PostgreSQL', { DATABASE_URL: pg.url }],
      ['embedded PGlite', {}],
    ] as const) {
      const service = await startService(env, { timeoutMs: 120_000 });
      const connections = await Promise.all(Array.from({ length: CLIENTS }, () => LeanConnection.open(service.url)));
      try {
        // Requests are built before the runs, so the load generator only sends and frames.
        const requests = (format: 'float' | 'base64') =>
          Array.from({ length: 64 }, (_, i) =>
            connections[0]!.request('/v1/embeddings', JSON.stringify({ input: batch(i), encoding_format: format })),
          );
        const bodies = { float: requests('float'), base64: requests('base64') };
        let sent = 0;
        const http = (format: 'float' | 'base64') => async (loop: number) => {
          const { status, body } = await connections[loop]!.send(bodies[format][sent++ % 64]!);
          if (status !== 200) throw new Error(`HTTP ${status}: ${body.toString()}`);
          // Like a load generator, count the answers without decoding them: parsing 4,096 floats
          // is the client's cost, and on two cores it would be taken from the server measured.
          return countOccurrences(body, '"object":"embedding"');
        };
        // Warm up both sides (JIT tiers, heap sizes, the service's thread and pools) before measuring.
        await rate(process.pid, raw, 1, WARM_UP_MS);
        await rate(service.proc.pid!, http('float'), CLIENTS, WARM_UP_MS);
        await rate(service.proc.pid!, http('base64'), CLIENTS, WARM_UP_MS);
        // Short runs in alternating order, each HTTP run compared with the raw run of its own
        // round: this VM's speed drifts by ±20 % within seconds, so long runs per side compared
        // different machines.
        const rates: Record<Side, Rate[]> = { raw: [], float: [], base64: [] };
        const probes: number[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          for (const side of round % 2 === 0 ? SIDES : [...SIDES].reverse()) {
            if (side === 'raw') {
              rates.raw.push(await rate(process.pid, raw));
              continue;
            }
            const run = rate(service.proc.pid!, http(side), CLIENTS);
            if (side === 'float') probes.push(...(await probeWhile(service.adminUrl, run)));
            rates[side].push(await run);
          }
        }
        const perSecond = (side: Side) =>
          spread(
            rates[side].map((r) => r.perSecond),
            0,
          );
        const cpu = (side: Side) =>
          percentile(
            rates[side].map((r) => r.cpuUs),
            50,
          ).toFixed(0);
        const summary = (side: 'float' | 'base64') =>
          spread(
            rates[side].map((r, i) => r.perSecond / rates.raw[i]!.perSecond),
            2,
          );
        console.log(`  ${label}`);
        console.log(
          `    raw pipeline (in-process, one call at a time): ${perSecond('raw')} embeddings/s; ${cpu('raw')} µs CPU per embedding`,
        );
        for (const side of ['float', 'base64'] as const) {
          const client = percentile(
            rates[side].map((r) => r.ownUsPerCall),
            50,
          ).toFixed(0);
          console.log(
            `    HTTP API, ${side}: ${perSecond(side)} embeddings/s; server ${cpu(side)} µs CPU per embedding, load generator ${client} µs per request`,
          );
        }
        console.log(`    ratio HTTP / raw, float JSON: ${summary('float')} [≥ 0.9]`);
        console.log(`    ratio HTTP / raw, base64 (the openai SDK's default): ${summary('base64')} [≥ 0.9]`);
        console.log(
          `    /livez during the float runs: p50 ${percentile(probes, 50).toFixed(1)} ms, p99 ${percentile(probes, 99).toFixed(1)} ms, max ${percentile(probes, 100).toFixed(1)} ms (${probes.length} probes)`,
        );
      } finally {
        for (const c of connections) c.close();
        service.kill('SIGTERM');
        await service.exited;
      }
    }
    const penalty = await coRunPenalty(raw);
    console.log(
      `  raw pipeline with a busy-looping process on the other core, ${penalty.length} rounds: ${spread(penalty, 2)} × its rate alone` +
        ' (the machine, not the service)',
    );
  } finally {
    await model.dispose();
    await pg.stop();
  }
}

function countOccurrences(haystack: Buffer, needle: string): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}

if (process.argv.includes('--memory-child')) {
  await memoryChild();
} else {
  if (!process.argv.includes('--throughput-only')) await memoryReport();
  await throughputReport();
}
