import type { Termination, TimelineEvent } from '../scenario/driver.js';
import type { ScenarioReport } from '../scenario/rolling-restart.js';

/** Colours of a pod's life: before ready, serving, preStop, then the drain report's phases. */
const COLORS: Record<string, string> = {
  starting: '#9ecae1',
  serving: '#41ab5d',
  preStop: '#fdd0a2',
  announce: '#fee08b',
  'stop-intake': '#fdae61',
  drain: '#9e9ac8',
  handoff: '#e34a33',
  release: '#99000d',
  exit: '#252525',
};

interface DrainPhase {
  name: string;
  startedAtMs: number;
  durationMs: number;
}

interface Segment {
  from: number;
  to: number;
  label: string;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** Each pod's life as segments, from the driver's events and its drain report. */
function podSegments(pod: string, events: TimelineEvent[], termination: Termination | undefined, end: number): Segment[] {
  const at = (kind: string) => events.find((e) => e.pod === pod && e.kind === kind)?.at;
  const created = at('created') ?? events.find((e) => e.pod === pod)?.at ?? end;
  const ready = at('ready');
  const deleted = termination?.deletedAt ?? at('deleted') ?? at('sigkill');
  const sigterm = at('sigterm');
  const exited = termination?.finishedAt ?? at('exited') ?? end;
  const segs: Segment[] = [{ from: created, to: ready ?? deleted ?? exited, label: 'starting' }];
  if (ready) segs.push({ from: ready, to: deleted ?? exited, label: 'serving' });
  if (deleted && sigterm) segs.push({ from: deleted, to: sigterm, label: 'preStop' });
  let phases: DrainPhase[] = [];
  try {
    phases = termination?.message ? ((JSON.parse(termination.message) as { phases?: DrainPhase[] }).phases ?? []) : [];
  } catch {
    // A truncated or foreign termination message: draw no phases.
  }
  if (sigterm) {
    for (const p of phases) {
      // Phases shorter than a pixel are still drawn one pixel wide.
      segs.push({ from: sigterm + p.startedAtMs, to: sigterm + p.startedAtMs + p.durationMs, label: p.name });
    }
  }
  return segs;
}

/** Stream rows drawn at most: every failed one, then an even sample of the rest (a soak has thousands). */
const MAX_STREAM_ROWS = 300;
/** Past this many pods (20 rollouts, 50 kills), a pod is a thin unlabelled row; its tooltip names it. */
const COMPACT_PODS = 60;

/** `items` if short enough, else the `keep` ones first and an even sample of the others, in their order. */
function sample<T>(items: T[], max: number, keep: (t: T) => boolean): T[] {
  if (items.length <= max) return items;
  const kept = items.filter(keep);
  const rest = items.filter((t) => !keep(t));
  const room = Math.max(0, max - kept.length);
  const picked = new Set<T>(Array.from({ length: room }, (_, i) => rest[Math.floor((i * rest.length) / room)] as T));
  return items.filter((t) => keep(t) || picked.has(t));
}

/**
 * Per second of the run: streams open, and handoffs (resumable `end` events) received. Drawn as
 * an area and bars under the cases, so a long run reads at a glance: load held through each fault.
 */
function loadStrip(report: ScenarioReport, x: (t: number) => number, y: number, height: number): string[] {
  const t0 = report.startedAt;
  const seconds = Math.max(1, Math.ceil((report.endedAt - t0) / 1000));
  const open = new Array<number>(seconds + 1).fill(0);
  const handoffs = new Array<number>(seconds + 1).fill(0);
  const failed: number[] = [];
  for (const s of report.cases.flatMap((c) => c.streams)) {
    const from = Math.max(0, Math.floor((s.startedAt - t0) / 1000));
    const to = Math.min(seconds, Math.floor(((s.endedAt ?? report.endedAt) - t0) / 1000));
    for (let i = from; i <= to; i++) open[i]!++;
    for (const h of s.handoffsAt) handoffs[Math.min(seconds, Math.max(0, Math.floor((h - t0) / 1000)))]!++;
    if (s.failure) failed.push(s.endedAt ?? report.endedAt);
  }
  const top = Math.max(1, ...open);
  const topH = Math.max(1, ...handoffs);
  const at = (i: number) => x(t0 + i * 1000);
  const area = open.map((n, i) => `${at(i).toFixed(1)},${(y + height - (n / top) * height).toFixed(1)}`).join(' ');
  const out = [
    `<text x="4" y="${y + 11}" class="h">streams open (max ${top})</text>`,
    `<text x="4" y="${y + 25}">handoffs per second (max ${topH})</text>`,
    `<polygon points="${at(0)},${y + height} ${area} ${at(seconds)},${y + height}" fill="#c6dbef" stroke="#3182bd"/>`,
  ];
  handoffs.forEach((n, i) => {
    if (n > 0) {
      const h = (n / topH) * height * 0.6;
      out.push(
        `<rect x="${at(i)}" y="${y + height - h}" width="1.5" height="${h}" fill="#e34a33"><title>${n} handoffs</title></rect>`,
      );
    }
  });
  for (const t of failed)
    out.push(`<circle cx="${x(t)}" cy="${y + height / 2}" r="4" fill="#de2d26"><title>a stream failed</title></circle>`);
  return out;
}

/** The run as one SVG: load per second, a row per pod (lifetime and drain phases), then a row per handed-off stream. */
export function timelineHtml(report: ScenarioReport, events: TimelineEvent[]): string {
  const t0 = report.startedAt;
  const t1 = report.endedAt;
  const width = 1300;
  const left = 230;
  const x = (t: number) => left + ((t - t0) / Math.max(1, t1 - t0)) * (width - left - 10);
  const terminations = new Map(report.cases.flatMap((c) => c.terminations).map((t) => [t.pod, t]));
  const pods = [...new Set(events.filter((e) => e.pod).map((e) => e.pod!))];
  const rows: string[] = [];
  let y = 40;
  for (const c of report.cases) {
    rows.push(
      `<rect x="${x(c.startedAt)}" y="20" width="${Math.max(1, x(c.endedAt) - x(c.startedAt))}" height="12" fill="${c.failures.length ? '#fcbba1' : '#c7e9c0'}"><title>${esc(c.name)}</title></rect>`,
    );
  }
  for (const e of events.filter(
    (e) => e.kind === 'rollout-restart' || e.kind === 'database-restart' || e.kind === 'upstream-faults',
  )) {
    rows.push(
      `<line x1="${x(e.at)}" x2="${x(e.at)}" y1="18" y2="100000" stroke="#888" stroke-dasharray="3,3"><title>${esc(`${e.kind} ${e.detail ?? ''}`)}</title></line>`,
    );
  }
  rows.push(...loadStrip(report, x, y, 60));
  y += 80;
  const compact = pods.length > COMPACT_PODS;
  const exits = [...terminations.values()];
  rows.push(
    `<text x="4" y="${y}" class="h">pods (${pods.length}${compact ? `: ${exits.filter((t) => t.exitCode === 0).length} exited 0, ${exits.filter((t) => t.signal === 'SIGKILL').length} SIGKILLed` : ''})</text>`,
  );
  y += 8;
  const rowHeight = compact ? 4 : 14;
  for (const pod of pods) {
    const t = terminations.get(pod);
    if (!compact) rows.push(`<text x="4" y="${y + 11}">${esc(pod)}${t ? ` → ${t.exitCode ?? t.signal}` : ''}</text>`);
    for (const s of podSegments(pod, events, t, t1)) {
      rows.push(
        `<rect x="${x(s.from)}" y="${y}" width="${Math.max(1, x(s.to) - x(s.from))}" height="${rowHeight}" fill="${COLORS[s.label] ?? '#ccc'}"><title>${esc(`${pod} ${s.label} ${((s.to - s.from) / 1000).toFixed(2)} s${t ? ` → ${t.exitCode ?? t.signal}` : ''}`)}</title></rect>`,
      );
    }
    y += rowHeight + (compact ? 1 : 4);
  }
  const handedOff = report.cases
    .flatMap((c) => c.streams)
    .filter((s) => s.handoffsAt.length > 0 || s.resumes > 0 || s.failure || s.errorEvent);
  const drawn = sample(handedOff, MAX_STREAM_ROWS, (s) => Boolean(s.failure || s.errorEvent));
  y += 14;
  rows.push(
    `<text x="4" y="${y}" class="h">streams handed off / resumed (${handedOff.length}${drawn.length < handedOff.length ? `, ${drawn.length} drawn: every failed one and an even sample` : ''})</text>`,
  );
  y += 6;
  for (const s of drawn) {
    const color = s.failure ? '#de2d26' : s.errorEvent ? '#fd8d3c' : '#3182bd';
    rows.push(
      `<line x1="${x(s.startedAt)}" x2="${x(s.endedAt ?? t1)}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2"><title>${esc(`stream #${s.index} ${s.streamId ?? ''}: ${s.maxTokens} tokens, ${s.resumes} resumes${s.failure ? `, FAILED: ${s.failure}` : ''}`)}</title></line>`,
    );
    for (const h of s.handoffsAt) rows.push(`<circle cx="${x(h)}" cy="${y}" r="2" fill="#e34a33"/>`);
    y += 3;
  }
  y += 20;
  const legend = Object.entries(COLORS)
    .map(([k, c]) => `<span><i style="background:${c}"></i>${k}</span>`)
    .join(' ');
  const caseList = report.cases
    .map(
      (c) =>
        `<li class="${c.failures.length ? 'fail' : 'pass'}">${c.failures.length ? 'FAIL' : 'PASS'} — ${esc(c.name)}<br><code>${esc(JSON.stringify(c.facts))}</code>${c.failures.map((f) => `<br>✗ ${esc(f)}`).join('')}</li>`,
    )
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>lastcall e2e (${report.driver})</title>
<style>body{font:13px system-ui,sans-serif;margin:16px}svg text{font:11px monospace}svg text.h{font-weight:bold}
.legend span{margin-right:12px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
li.pass{color:#1a7f37}li.fail{color:#b42318}code{color:#333;font-size:11px}</style></head><body>
<h2>lastcall e2e — ${esc(report.driver)} driver — ${report.ok ? 'PASS' : 'FAIL'} — ${((t1 - t0) / 1000).toFixed(0)} s</h2>
<p>grace ${report.timings.graceSeconds} s, preStop ${report.timings.preStopSeconds} s, drain budget ${report.timings.drainBudgetSeconds} s, ${report.timings.tokensPerSecond} tokens/s, ${report.timings.replicas} replicas. Dots: resumable <code>end</code> events (handoffs); dashed lines: rollouts and faults.</p>
<div class="legend">${legend}</div>
<svg width="${width}" height="${y}" xmlns="http://www.w3.org/2000/svg">${rows.join('')}</svg>
<ul>${caseList}</ul></body></html>`;
}
