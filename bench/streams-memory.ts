/**
 * RSS of one replica holding 1,000 and then 5,000 concurrent streams, above its idle RSS, per
 * stream. The replica's own memory: its database is PostgreSQL, a process of its own (embedded
 * PGlite would add its WASM heap, and runs every write on the replica's event loop, which at
 * 5,000 streams falls seconds behind). `npx tsx bench/streams-memory.ts` (after `npm run build`);
 * `BENCH_STREAMS=1000,5000` sets the counts (a fresh replica each), `BENCH_MAIN=<another build's
 * dist/main.js>` measures that build, `BENCH_HEAP_SNAPSHOT=<dir>` writes the replica's heap
 * snapshot once the streams are open (SIGUSR2, `--heapsnapshot-signal`).
 * Each stream is a client connection in, an upstream connection out and a generation: 5,000
 * need ~10,000 descriptors here and in the service (`ulimit -n`, 20,000 on the dev VM).
 * The streams belong to `BENCH_KEYS` (50) API keys, as a replica's traffic does: one key's
 * creates are counted one after another under its quota lock, which is not what is measured
 * here. `BENCH_LOG_FORMAT` (rows) is the replica's STREAM_LOG_FORMAT; `BENCH_RATE` (5) the
 * tokens/s of each stream; `BENCH_SAMPLES` (9) how many RSS samples, a second apart, the figure
 * is the median of; `BENCH_NODE_FLAGS` the replica's node flags. With two counts or more it
 * also prints the slope between the first and the last: the memory one more stream costs,
 * without what load itself adds once (the young generation grown to its maximum, pools).
 * Target: ≤ 100 KB per stream (and < 300 MB above idle at 1,000).
 */
import { startPostgres } from '../testkit/postgres.js';
import { startService, type ServiceProcess } from '../testkit/service.js';
import { longPrompt, percentile, startUpstream } from './streams-support.js';

const COUNTS = (process.env.BENCH_STREAMS ?? '1000,5000').split(',').map(Number);
const MAIN = process.env.BENCH_MAIN;
const HEAP_SNAPSHOT = process.env.BENCH_HEAP_SNAPSHOT;
const SETTLE_MS = 10_000;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 9);
const WAVE = 50;
const RATE = Number(process.env.BENCH_RATE ?? 5); // tokens/s per stream
const KEYS = Array.from({ length: Number(process.env.BENCH_KEYS ?? 50) }, (_, i) => ({
  name: `memory-${i}`,
  key: `memory-bench-key-${String(i).padStart(4, '0')}-0123456789`,
}));
const LOG_FORMAT = process.env.BENCH_LOG_FORMAT ?? 'rows';
/** Node flags for the replica (`--max-semi-space-size=32`, say), space-separated. */
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);

const mb = (bytes: number) => bytes / 2 ** 20;

// Slow tokens keep every stream open for the whole measurement.
const upstream = await startUpstream(RATE);

/** Writes the replica's heap snapshot (into HEAP_SNAPSHOT) and resolves once it is written. */
async function heapSnapshot(svc: ServiceProcess): Promise<void> {
  svc.proc.kill('SIGUSR2');
  await new Promise((r) => setTimeout(r, 1_000));
  await svc.metric('process_resident_memory_bytes'); // answered once the snapshot (on the event loop) is written
}

/** A prompt answered this long at least: every stream stays open through the measurement, whatever the rate and the samples. */
const LONG = 1000;

/** MB above idle, per count measured. */
const above = new Map<number, number>();

async function measure(streams: number): Promise<void> {
  const pg = await startPostgres();
  const svc: ServiceProcess = await startService(
    {
      DATABASE_URL: pg.url,
      OPENAI_BASE_URL: upstream.url,
      MAX_CONCURRENT_STREAMS: String(streams + 10),
      KEY_MAX_STREAMS: String(streams + 10),
      KEY_RATE_BURST: String(streams + 10),
      MAX_CONNECTIONS: String(streams * 2 + 100),
      DATABASE_POOL_SIZE: '20',
      API_KEYS: KEYS.map((k) => `${k.name}:${k.key}`).join(','),
      STREAM_LOG_FORMAT: LOG_FORMAT,
    },
    {
      main: MAIN,
      nodeArgs: [...NODE_FLAGS, ...(HEAP_SNAPSHOT ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${HEAP_SNAPSHOT}`] : [])],
    },
  );
  const controllers = Array.from({ length: streams }, () => new AbortController());
  try {
    await new Promise((r) => setTimeout(r, 2_000));
    const idle = mb(await svc.metric('process_resident_memory_bytes'));
    if (HEAP_SNAPSHOT) await heapSnapshot(svc); // idle, to compare with
    let chunks = 0;
    // Opened in waves, as clients arrive, rather than all in one tick (each is a transaction).
    for (let from = 0; from < streams; from += WAVE) {
      await Promise.all(
        controllers.slice(from, from + WAVE).map(async (c, k) => {
          const i = from + k;
          const res = await fetch(`${svc.url}/v1/chat/stream`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEYS[i % KEYS.length]!.key}` },
            body: JSON.stringify({ messages: longPrompt(`memory bench ${i}`, LONG), max_tokens: 4096 }),
            signal: c.signal,
          });
          if (res.status !== 200) throw new Error(`stream ${i}: HTTP ${res.status} ${await res.text()}`);
          void (async () => {
            for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) chunks += chunk.length > 0 ? 1 : 0;
          })().catch(() => undefined);
        }),
      );
    }
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    // RSS moves with each garbage collection: the median of samples a second apart, not one moment.
    const samples: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 1_000));
      samples.push(mb(await svc.metric('process_resident_memory_bytes')));
    }
    const loaded = percentile(samples, 50);
    const heap = mb(await svc.metric('nodejs_heap_size_used_bytes'));
    const active = await svc.metric('lastcall_streams_active');
    if (HEAP_SNAPSHOT) await heapSnapshot(svc);
    const perStream = ((loaded - idle) * 1024) / streams;
    above.set(streams, loaded - idle);
    const behind = active < streams ? `: only ${active} of ${streams}, so this is not a measurement` : '';
    console.log(`${streams} streams open (${active} generating${behind}), ${chunks} SSE chunks received since they opened`);
    console.log(
      `RSS idle ${idle.toFixed(0)} MB, with ${streams} streams ${loaded.toFixed(0)} MB (median of ${SAMPLES}, ${Math.min(...samples).toFixed(0)}–${Math.max(...samples).toFixed(0)}; JS heap used ${heap.toFixed(0)} MB): ` +
        `${(loaded - idle).toFixed(0)} MB above idle${streams === 1000 ? ' [< 300 MB]' : ''}, ${perStream.toFixed(1)} KB per stream [≤ 100 KB]`,
    );
  } catch (err) {
    // What the replica said about it (a database that fell behind, a cap).
    for (const line of svc.logs.filter((l) => Number(l.level) >= 40).slice(-5)) console.error(JSON.stringify(line));
    throw err;
  } finally {
    for (const c of controllers) c.abort();
    svc.kill('SIGKILL');
    await svc.exited;
    await pg.stop();
  }
}

try {
  console.log(
    `${RATE} tokens/s a stream, ${KEYS.length} keys, STREAM_LOG_FORMAT=${LOG_FORMAT}, node flags: ${NODE_FLAGS.join(' ') || 'none'}`,
  );
  for (const n of COUNTS) await measure(n);
  const [first, last] = [COUNTS[0]!, COUNTS.at(-1)!];
  if (last > first) {
    const slope = ((above.get(last)! - above.get(first)!) * 1024) / (last - first);
    console.log(`from ${first} to ${last} streams: ${slope.toFixed(1)} KB per additional stream [≤ 100 KB]`);
  }
} finally {
  upstream.stop();
}
process.exit(0);
