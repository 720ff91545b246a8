/**
 * SIGTERM with slow clients attached: a socket trickling a request body, a few open token
 * streams and a task event stream. Measures SIGTERM → exit against the budget the replica
 * announces (`shutdown started` budgetMs) and reads its `drain report` for each phase.
 */
import type { ServiceProcess } from '../../testkit/service.js';
import { sleep } from './harness.js';
import { trickle, type TrickleResult } from './slow.js';

export interface PhaseFigure {
  readonly name: string;
  readonly durationMs: number;
  readonly allowedMs: number;
  /** Participants that did not finish cleanly (timeout or error). */
  readonly failed: string[];
}

export interface DrainResult {
  readonly replica: string;
  readonly attached: string[];
  readonly budgetMs?: number;
  readonly sigtermToExitMs?: number;
  readonly exitCode: number | null;
  readonly exitSignal: string | null;
  readonly reportWithinBudget?: boolean;
  readonly reportTotalMs?: number;
  readonly phases: PhaseFigure[];
  readonly participantTimeouts: string[];
  /** What each attached stream client saw last (done / end / error / nothing). */
  readonly streamEndings: string[];
  readonly trickle?: TrickleResult;
  /** Within budget, exit 0, and no participant abandoned at a deadline. */
  readonly ok: boolean;
}

interface Report {
  budgetMs: number;
  totalMs: number;
  withinBudget: boolean;
  phases: { name: string; durationMs: number; allowedMs: number; participants: { name: string; outcome: string }[] }[];
}

/** Opens an event stream and records the last event name until the server ends it. */
function follow(
  url: string,
  key: string,
  init: RequestInit,
): { last: () => string; done: Promise<void>; status: Promise<number> } {
  let last = 'nothing';
  let resolveStatus: (n: number) => void = () => undefined;
  const status = new Promise<number>((r) => (resolveStatus = r));
  const done = (async () => {
    try {
      const res = await fetch(url, { ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } });
      resolveStatus(res.status);
      if (!res.body) return;
      const dec = new TextDecoder();
      for await (const chunk of res.body) {
        for (const m of dec.decode(chunk as Uint8Array, { stream: true }).matchAll(/^event: (\w+)/gm)) last = m[1]!;
      }
    } catch {
      resolveStatus(0);
      last = `${last} (connection broke)`;
    }
  })();
  return { last: () => last, done, status };
}

/** SIGTERMs `svc` and measures its drain; `attach` sets slow clients up first. */
export async function drainWithClients(opts: {
  svc: ServiceProcess;
  replica: string;
  key: string;
  /** Streams to keep open, and a task whose event stream never ends (held elsewhere). */
  streams: number;
  eventsTaskId?: string;
  trickleBody: boolean;
  /** Cap on waiting for the exit after SIGTERM. */
  exitCapMs: number;
}): Promise<DrainResult> {
  const { svc, key } = opts;
  const attached: string[] = [];
  const streams: ReturnType<typeof follow>[] = [];
  for (let i = 0; i < opts.streams; i++) {
    streams.push(
      follow(`${svc.url}/v1/chat/stream`, key, {
        method: 'POST',
        body: JSON.stringify({ messages: [{ role: 'user', content: `drain stream ${i}` }], max_tokens: 4096 }),
      }),
    );
  }
  if (opts.streams) attached.push(`${opts.streams} token streams (max_tokens 4096)`);
  if (opts.eventsTaskId) {
    streams.push(follow(`${svc.url}/v1/tasks/${opts.eventsTaskId}/events`, key, { method: 'GET' }));
    attached.push('1 task event stream (task held by another replica)');
  }
  const statuses = await Promise.all(streams.map((s) => s.status));
  let trickling: Promise<TrickleResult> | undefined;
  if (opts.trickleBody) {
    const body = JSON.stringify({ documents: [{ id: 'slow', text: 'a body that never finishes arriving' }] });
    trickling = trickle({
      name: 'body 1 byte / 5 s during SIGTERM',
      port: svc.port,
      head: `POST /v1/documents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      drip: body,
      intervalMs: 5_000,
      capMs: opts.exitCapMs + 2_000,
    });
    attached.push('1 request body trickled at 1 byte / 5 s');
  }
  await sleep(500);
  const t0 = performance.now();
  svc.kill('SIGTERM');
  const exit = await Promise.race([svc.exited, sleep(opts.exitCapMs).then(() => undefined)]);
  if (!exit) svc.kill('SIGKILL');
  const exited = exit ?? (await svc.exited);
  await Promise.race([Promise.all(streams.map((s) => s.done)), sleep(1_000)]);
  const started = svc.logs.find((l) => l.msg === 'shutdown started') as { budgetMs?: number } | undefined;
  const report = (svc.logs.find((l) => l.msg === 'drain report') as { report?: Report } | undefined)?.report;
  const phases: PhaseFigure[] = (report?.phases ?? []).map((p) => ({
    name: p.name,
    durationMs: Math.round(p.durationMs),
    allowedMs: Math.round(p.allowedMs),
    failed: p.participants.filter((x) => x.outcome !== 'ok').map((x) => `${x.name}: ${x.outcome}`),
  }));
  const participantTimeouts = phases.flatMap((p) => p.failed.map((f) => `${p.name}/${f}`));
  const budgetMs = started?.budgetMs ?? report?.budgetMs;
  const sigtermToExitMs = exit ? Math.round(exited.at - t0) : undefined;
  const trickleResult = trickling ? await trickling : undefined;
  return {
    replica: opts.replica,
    attached: [...attached, `stream statuses at attach: ${statuses.join(', ') || 'none'}`],
    budgetMs,
    sigtermToExitMs,
    exitCode: exited.code,
    exitSignal: exited.signal,
    reportWithinBudget: report?.withinBudget,
    reportTotalMs: report ? Math.round(report.totalMs) : undefined,
    phases,
    participantTimeouts,
    streamEndings: streams.map((s) => s.last()),
    trickle: trickleResult,
    ok:
      exited.code === 0 &&
      sigtermToExitMs !== undefined &&
      budgetMs !== undefined &&
      sigtermToExitMs <= budgetMs &&
      participantTimeouts.length === 0,
  };
}
