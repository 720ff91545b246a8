/**
 * Push (LISTEN/NOTIFY) against poll, before and after in one run: the release before it
 * (BENCH_BEFORE, built from git into a worktree) and this checkout's build, each on a fresh
 * PostgreSQL with real replicas. Prints, for each:
 * - follow latency: a stream generated on replica A, followed from replica B: from each commit of
 *   a batch (as the database announces it to a connection of the bench's own) to B's client
 *   receiving it, p50/p99 [p50 < 10 ms];
 * - transactions/s of idle replicas (one alone, then two) [≤ 0.2/s each];
 * - PostgreSQL's CPU (its processes' utime+stime from /proc) per 1,000 tokens streamed, no
 *   followers: what announcing every batch costs.
 * `npm run build && npx tsx bench/notifications.ts`. The before-database gets the notify triggers
 * only for the latency part (its replicas never listen), so the bench can time commits there too.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { MIGRATIONS } from '../src/db/migrations.js';
import { followLags } from '../testkit/follow-lag.js';
import { startPostgres, transactionRate } from '../testkit/postgres.js';
import { ROOT, startService, type ServiceProcess } from '../testkit/service.js';
import { percentile, postgresCpuMs, streamLoad } from './streams-support.js';

const BEFORE = process.env.BENCH_BEFORE ?? '16c0dd1'; // the AI SDK front door: followers poll every 75 ms
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 40);
const FOLLOWED = Number(process.env.BENCH_FOLLOWED ?? 20);
const RATE = 50; // tokens/s a stream

function buildBefore(): string {
  const dir = `/tmp/lastcall-bench-before-${BEFORE}`;
  if (!existsSync(path.join(dir, 'dist/main.js'))) {
    if (!existsSync(dir)) execFileSync('git', ['-C', ROOT, 'worktree', 'add', '--detach', dir, BEFORE], { stdio: 'ignore' });
    if (!existsSync(path.join(dir, 'node_modules'))) symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    execFileSync(path.join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' });
  }
  return path.join(dir, 'dist/main.js');
}

interface Figures {
  idleOne: number;
  idleTwoEach: number;
  cpuPer1k: number;
  followP50: number;
  followP99: number;
  lags: number;
}

async function measure(main: string, isBefore: boolean): Promise<Figures> {
  const pgi = await startPostgres();
  const admin = new pg.Client({ connectionString: pgi.url });
  await admin.connect();
  const env = (replica: string) => ({ DATABASE_URL: pgi.url, REPLICA_ID: replica, DEV_UPSTREAM_TOKENS_PER_SECOND: String(RATE) });
  const replicas: ServiceProcess[] = [];
  try {
    replicas.push(await startService(env('a'), { main }));
    const idleOne = await idleRate(admin);
    replicas.push(await startService(env('b'), { main }));
    const idleTwoEach = (await idleRate(admin)) / 2;
    const [a, b] = replicas as [ServiceProcess, ServiceProcess];

    const cpu0 = postgresCpuMs(pgi);
    const load = await streamLoad(a.url, 40, 250);
    const cpuPer1k = ((postgresCpuMs(pgi) - cpu0) / load.tokens) * 1000;

    if (isBefore) await admin.query(MIGRATIONS.find((m) => m.name === 'notify_triggers')!.sql);
    const runs = Array.from({ length: FOLLOWED }, (_, i) =>
      followLags({ pgUrl: pgi.url, generatorUrl: a.url, followerUrl: b.url, content: `followed stream ${i}`, maxTokens: 200 }),
    );
    const lags = (await Promise.all(runs)).flatMap((r) => r.lags);
    return {
      idleOne,
      idleTwoEach,
      cpuPer1k,
      followP50: percentile(lags, 50),
      followP99: percentile(lags, 99),
      lags: lags.length,
    };
  } finally {
    for (const r of replicas) r.kill('SIGKILL');
    await Promise.all(replicas.map((r) => r.exited));
    await admin.end();
    await pgi.stop();
  }
}

/** Transactions/s the database counts while the replicas sit idle (after their first retention sweep). */
async function idleRate(admin: pg.Client): Promise<number> {
  // The first sweep comes ≤ 12.5 s after start; idle backends report their counts up to 10 s late.
  await new Promise((r) => setTimeout(r, 14_000));
  return transactionRate(admin, IDLE_SECONDS);
}

const beforeMain = buildBefore();
console.log(
  `before: ${BEFORE} (polling); after: this checkout (LISTEN/NOTIFY); ${FOLLOWED} followed streams at ${RATE} tokens/s`,
);
const before = await measure(beforeMain, true);
const after = await measure(path.join(ROOT, 'dist/main.js'), false);
const f = (n: number, d = 1) => n.toFixed(d);
const row = (label: string, x: string, y: string, target: string) =>
  console.log(`${label.padEnd(44)} ${x.padStart(14)} ${y.padStart(14)}   ${target}`);
row('', 'before (poll)', 'after (push)', '');
row(
  'follow latency after commit p50 / p99, ms',
  `${f(before.followP50)} / ${f(before.followP99)}`,
  `${f(after.followP50)} / ${f(after.followP99)}`,
  '[p50 < 10 ms]',
);
row('idle transactions/s, one replica', f(before.idleOne, 2), f(after.idleOne, 2), '[≤ 0.2]');
row('idle transactions/s per replica, two', f(before.idleTwoEach, 2), f(after.idleTwoEach, 2), '[≤ 0.2]');
row('PostgreSQL CPU ms per 1,000 tokens, no followers', f(before.cpuPer1k), f(after.cpuPer1k), '');
console.log(`(${before.lags} and ${after.lags} commits followed)`);
process.exit(0);
