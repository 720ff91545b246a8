/**
 * SIGTERM → exit time of an idle replica (no propagation delay), over 20 runs, on PostgreSQL
 * (the multi-replica set-up) and on the embedded PGlite default.
 * Target: median and max under 100 ms. Run: npx tsx bench/drain-exit.ts [runs]
 */
import { startPostgres } from '../testkit/postgres.js';
import { startService } from '../testkit/service.js';

const runs = Number(process.argv[2] ?? 20);
const pg = await startPostgres();
let pass = true;
for (const [label, env] of [
  ['PostgreSQL', { DATABASE_URL: pg.url }],
  ['embedded PGlite', {}],
] as const) {
  pass = (await measure(label, env)) && pass;
}
await pg.stop();
console.log(pass ? 'PASS' : 'FAIL');

async function measure(label: string, env: Record<string, string>): Promise<boolean> {
  const times: number[] = [];
  const reportTotals: number[] = [];
  for (let i = 0; i < runs; i++) {
    const svc = await startService({ ...env, ENDPOINT_PROPAGATION_SECONDS: '0', LOG_LEVEL: 'info' });
    const t0 = performance.now();
    svc.kill('SIGTERM');
    const exit = await svc.exited;
    if (exit.code !== 0) throw new Error(`run ${i}: exit code ${exit.code} signal ${exit.signal}`);
    times.push(exit.at - t0);
    const report = svc.logs.find((l) => l.msg === 'drain report')?.report as { totalMs: number } | undefined;
    if (report) reportTotals.push(report.totalMs);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const max = sorted.at(-1)!;
  const fmt = (n: number) => n.toFixed(1);
  console.log(`SIGTERM→exit over ${runs} runs (idle replica, propagation 0, ${label}):`);
  console.log(`  median ${fmt(median)} ms, max ${fmt(max)} ms, min ${fmt(sorted[0]!)} ms   [target: < 100 ms]`);
  console.log(
    `  drain sequence as reported by the service: median ${reportTotals.sort((a, b) => a - b)[Math.floor(reportTotals.length / 2)]} ms`,
  );
  return median < 100 && max < 100;
}
