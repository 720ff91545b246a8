/** The sweep's summary: one JSON document, and the same figures as a plain-text table. */
import type { AbortResult } from './abort.js';
import type { DocumentFloodResult, StreamSlotsResult, TaskBurstResult } from './abuse.js';
import type { DbHangResult } from './dbhang.js';
import type { DrainResult } from './drain.js';
import type { CaseResult } from './run-catalogue.js';
import type { IdleResult, TrickleResult } from './slow.js';

export interface Summary {
  readonly ok: boolean;
  readonly failures: string[];
  readonly mode: 'full' | 'quick';
  readonly startedAt: string;
  readonly durationS: number;
  readonly config: Record<string, string>;
  readonly catalogue: {
    readonly total: number;
    readonly byCategory: Record<string, Record<string, number>>;
    readonly cleanJson4xx: number;
    readonly flagged: Record<string, number>;
    readonly cases: CaseResult[];
  };
  readonly logLeaks: { readonly apiKeysInLog: string[]; readonly payloadFragmentsInLog: { case: string; fragment: string }[] };
  readonly slowClients?: {
    readonly trickle: TrickleResult[];
    readonly idle?: IdleResult;
    readonly idleDuring?: { status?: number; connectionsGauge?: number };
  };
  readonly abuse?: { streamSlots?: StreamSlotsResult; taskBurst?: TaskBurstResult; documentFlood?: DocumentFloodResult };
  readonly aborts: AbortResult[];
  readonly afterAborts?: Record<string, number | undefined>;
  readonly dbHang?: DbHangResult;
  readonly drains: DrainResult[];
  readonly metricsHygiene?: {
    readonly routeLabels: string[];
    readonly oddRouteLabels: string[];
    readonly promtool?: { ok: boolean; output: string };
  };
  readonly errors: string[];
}

const CLASSES = ['2xx', '3xx', '4xx', '5xx', 'hang', 'reset'] as const;
const pad = (s: string | number, n: number) => String(s).padEnd(n);
const lpad = (s: string | number, n: number) => String(s).padStart(n);
const sec = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

export function formatSummary(s: Summary): string {
  const out: string[] = [];
  const line = (x = '') => out.push(x);
  const c = s.catalogue;
  line('');
  line(`== hostile sweep (${s.mode}) — ${s.durationS.toFixed(0)} s ==`);
  line('');
  line(`-- 1. input catalogue: ${c.total} cases; ${c.cleanJson4xx} answered with a clean JSON 4xx --`);
  line(`${pad('category', 18)}${lpad('cases', 6)}${CLASSES.map((k) => lpad(k, 6)).join('')}${lpad('flagged', 9)}`);
  const totals: Record<string, number> = {};
  for (const [cat, counts] of Object.entries(c.byCategory)) {
    line(
      `${pad(cat, 18)}${lpad(counts.cases ?? 0, 6)}${CLASSES.map((k) => lpad(counts[k] ?? 0, 6)).join('')}${lpad(counts.flagged ?? 0, 9)}`,
    );
    for (const [k, v] of Object.entries(counts)) totals[k] = (totals[k] ?? 0) + v;
  }
  line(
    `${pad('total', 18)}${lpad(totals.cases ?? 0, 6)}${CLASSES.map((k) => lpad(totals[k] ?? 0, 6)).join('')}${lpad(totals.flagged ?? 0, 9)}`,
  );
  line(
    `flags: ${
      Object.entries(c.flagged)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }`,
  );
  const list = (title: string, rows: CaseResult[], detail: (r: CaseResult) => string) => {
    if (!rows.length) return;
    line('');
    line(`${title} (${rows.length}):`);
    for (const r of rows) line(`  [${r.category}] ${r.route} — ${r.name} → ${detail(r)}`);
  };
  const has = (f: string) => c.cases.filter((r) => r.flags.includes(f as never));
  list('5xx', has('5xx'), (r) => `${r.status} ${r.code ?? ''}`.trim());
  list(
    'hangs (no answer in 10 s)',
    has('hang'),
    (r) => `${r.status ? `${r.status} then ` : ''}no complete answer after ${sec(r.ms)}`,
  );
  list('resets (closed without a status line)', has('reset'), () => 'connection closed');
  list('non-JSON 4xx', has('non-json-4xx'), (r) => `${r.status} ${r.contentType ?? '(no content type)'}`);
  list('accepted although an error was expected', has('accepted'), (r) => `${r.status}`);
  list('unexpected status', has('unexpected-status'), (r) => `${r.status} (expected ${r.expected})`);
  list('findings', has('finding'), (r) => r.finding ?? '');
  line('');
  line(
    `log: API keys seen ${s.logLeaks.apiKeysInLog.length ? s.logLeaks.apiKeysInLog.join(', ') : 'nowhere'}; NUL-case payload fragments seen: ${s.logLeaks.payloadFragmentsInLog.length}`,
  );
  for (const p of s.logLeaks.payloadFragmentsInLog) line(`  ${p.case}: ${p.fragment}`);

  if (s.slowClients) {
    line('');
    line('-- 2. slow and abusive clients --');
    for (const t of s.slowClients.trickle) {
      const held = t.capped ? `held ≥ ${t.heldAtLeastS} s (we gave up)` : `closed by the server after ${t.closedAfterS} s`;
      line(
        `  ${pad(t.name, 40)} ${held}; ${t.status ? `answered ${t.status} after ${t.answeredAfterS} s` : 'no answer'}; ${t.bytesSent} bytes dripped`,
      );
    }
    const i = s.slowClients.idle;
    if (i) {
      line(
        `  idle connections: ${i.connected}/${i.attempted} accepted, ${i.openAfterSettle} open after 0.5 s, ${i.openAtEnd} still open after ${i.heldS} s` +
          (i.firstClosedAfterS !== undefined
            ? ` (server closed the first after ${i.firstClosedAfterS} s, median ${i.medianClosedAfterS} s)`
            : ''),
      );
      const d = s.slowClients.idleDuring;
      if (d)
        line(
          `    while they were open: a plain request got ${d.status}; lastcall_http_connections = ${d.connectionsGauge ?? 'not exported'}`,
        );
    }
  }
  const a = s.abuse;
  if (a?.streamSlots) {
    const x = a.streamSlots;
    line(
      `  stream slots (MAX_CONCURRENT_STREAMS=${x.maxConcurrentStreams}): key A's concurrent starts ${JSON.stringify(x.aStarts)}; key B's start then → ${x.bStartStatus}; ` +
        `A's extra readers ${JSON.stringify(x.aJoins)}; B's reader → ${x.bJoinStatus}; after all hung up: clients=${x.clientsAfterAbort}, active=${x.activeAfterAbort}`,
    );
  }
  if (a?.taskBurst) {
    const x = a.taskBurst;
    line(
      `  task burst: ${x.submitted} tasks from key A in ${x.burstMs} ms → ${JSON.stringify(x.statuses)}; key B's task submitted next: first step after ` +
        `${x.bFirstStepMs === undefined ? `> ${sec(x.bFirstStepCapMs)} (gave up)` : sec(x.bFirstStepMs)}` +
        (x.aClaimedBeforeB !== undefined
          ? ` (${x.aClaimedBeforeB} of A's tasks were claimed before it, ${x.aCompletedWhenBStarted} had completed before it was claimed)`
          : ''),
    );
  }
  if (a?.documentFlood) {
    const x = a.documentFlood;
    line(
      `  document flood: ${x.requests} × ${x.docsPerRequest} docs from one key → ${JSON.stringify(x.statuses)}, ${x.docsAccepted} accepted in ${x.elapsedMs} ms; the key now owns ${x.docsStored} documents`,
    );
  }

  if (s.aborts.length) {
    line('');
    line('-- 3. clients that hang up while their handler awaits a blocked query --');
    line(
      `  ${pad('route', 26)}${lpad('aborted', 8)}${lpad('blocked', 8)}  ${pad('slot gauge before → after', 46)}${lpad('leaked', 7)}  fresh request`,
    );
    for (const r of s.aborts) {
      line(
        `  ${pad(r.route, 26)}${lpad(r.aborted, 8)}${lpad(r.blockedSeen, 8)}  ${pad(`${r.slotGauge} ${r.before[r.slotGauge as keyof typeof r.before] ?? '—'} → ${r.after[r.slotGauge as keyof typeof r.after] ?? '—'}`, 46)}${lpad(r.leaked, 7)}  ${r.freshStatus ?? '—'} ${r.freshCode ?? ''}`,
      );
      line(
        `    all gauges after: ${Object.entries(r.after)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
      );
      if (r.dbXactPerSecBefore !== undefined)
        line(
          `    database transactions/s with no client connected: ${r.dbXactPerSecBefore} before → ${r.dbXactPerSecAfter} after`,
        );
    }
    if (s.afterAborts)
      line(
        `  after all three, fresh requests: ${Object.entries(s.afterAborts)
          .map(([k, v]) => `${k} → ${v}`)
          .join('; ')}`,
      );
  }

  if (s.dbHang) {
    const h = s.dbHang;
    line('');
    line(`-- 5. database hang: ${h.processesStopped} PostgreSQL processes SIGSTOPped for ${sec(h.stallMs)} --`);
    const fmt = (r: { status: number; ms: number; retryAfter?: string; code?: string }) =>
      `${r.status || 'no answer'}${r.code ? ` ${r.code}` : ''} after ${sec(r.ms)}${r.retryAfter ? ` (Retry-After ${r.retryAfter})` : r.status >= 500 ? ' (no Retry-After)' : ''}`;
    line(`  plain GET /v1/tasks/:id: ${fmt(h.plain)}`);
    const byStatus: Record<string, number[]> = {};
    for (const r of h.concurrent) (byStatus[`${r.status}${r.retryAfter ? ' +Retry-After' : ''}`] ??= []).push(r.ms);
    line(
      `  ${h.concurrent.length} concurrent GETs: ${Object.entries(byStatus)
        .map(([k, v]) => `${v.length}× ${k} after ${sec(Math.min(...v))}–${sec(Math.max(...v))}`)
        .join('; ')}`,
    );
    line(`  admin /readyz during the stall: ${fmt(h.readyz)}; a request after PostgreSQL resumed: ${fmt(h.afterResume)}`);
  }

  for (const d of s.drains) {
    line('');
    line(`-- 4. drain of ${d.replica}: ${d.attached.join('; ')} --`);
    line(
      `  SIGTERM → exit ${sec(d.sigtermToExitMs)} vs budget ${sec(d.budgetMs)}; exit code ${d.exitCode ?? d.exitSignal}; report total ${sec(d.reportTotalMs)}, withinBudget=${d.reportWithinBudget}`,
    );
    for (const p of d.phases)
      line(
        `    ${pad(p.name, 12)} ${lpad(`${p.durationMs} ms`, 9)} of ${lpad(`${p.allowedMs} ms`, 9)}${p.failed.length ? `  abandoned: ${p.failed.join(', ')}` : ''}`,
      );
    if (d.streamEndings.length) line(`  stream clients saw last: ${d.streamEndings.join(', ')}`);
    if (d.trickle)
      line(
        `  trickling socket: ${d.trickle.status ? `answered ${d.trickle.status} after ${d.trickle.answeredAfterS} s` : 'no answer'}; ${d.trickle.capped ? `held ≥ ${d.trickle.heldAtLeastS} s` : `closed after ${d.trickle.closedAfterS} s`} (from before SIGTERM)`,
      );
    line(`  verdict: ${d.ok ? 'OK' : 'NOT OK'}`);
  }

  if (s.metricsHygiene) {
    const m = s.metricsHygiene;
    line('');
    line('-- metrics hygiene --');
    line(`  lastcall_http_requests_total route labels: ${m.routeLabels.join(', ')}`);
    if (m.oddRouteLabels.length) line(`  labels that are not a route template: ${m.oddRouteLabels.join(', ')}`);
    if (m.promtool)
      line(
        `  promtool check metrics: ${m.promtool.ok ? 'ok' : `fails: ${m.promtool.output.trim().split('\n').slice(0, 5).join(' | ')}`}`,
      );
  }
  if (s.errors.length) {
    line('');
    line('-- sweep errors --');
    for (const e of s.errors) line(`  ${e}`);
  }
  line('');
  line(s.ok ? 'VERDICT: PASS' : `VERDICT: FAIL — ${s.failures.join('; ')}`);
  return out.join('\n');
}
