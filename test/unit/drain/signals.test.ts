import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FATAL_BUDGET_MS, handleShutdownSignals } from '../../../src/drain/signals.js';
import { createLogger } from '../../../src/log/logger.js';
import { engineOnFakeClock } from '../../../testkit/drain.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** The real engine and signal handling, in-process: signals from an EventEmitter, exit recorded. */
function setup(opts: { serving?: boolean; brokenObserver?: boolean } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lastcall-signals-'));
  dirs.push(dir);
  // Kubernetes creates the file; the service only writes into one that exists.
  const terminationPath = path.join(dir, 'termination-log');
  fs.writeFileSync(terminationPath, '');
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger(
    'info',
    {},
    { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const { clock, budget, engine } = engineOnFakeClock(
    { gracePeriodSeconds: 10, safetyMarginSeconds: 1 },
    {
      phaseEnded: () => {
        if (opts.brokenObserver) throw new Error('observer defect');
      },
    },
  );
  const exits: number[] = [];
  const signals = new EventEmitter();
  const trigger = handleShutdownSignals({
    engine,
    budget,
    logger,
    terminationMessagePath: terminationPath,
    clock,
    exit: (c) => void exits.push(c),
    signals,
  });
  if (opts.serving !== false) engine.markServing();
  return { clock, signals, trigger, exits, logs, engine, termination: () => fs.readFileSync(terminationPath, 'utf8') };
}

describe('shutdown signals and the failure trigger', () => {
  it.each([
    { how: 'signal', code: 0, reason: 'SIGTERM', what: 'SIGTERM drains and exits 0 with the report' },
    {
      how: 'failure',
      code: 1,
      reason: 'fixture-failure',
      what: 'a failure drains the same way and exits 1, so the pod reads Error rather than Completed',
    },
  ] as const)('$what', async ({ how, code, reason }) => {
    const s = setup();
    if (how === 'failure') s.trigger.shutdown('fixture-failure');
    else s.signals.emit('SIGTERM', 'SIGTERM');
    await s.clock.advance(100);
    expect(s.exits).toEqual([code]);
    expect(s.logs.find((l) => l.msg === 'shutdown started')).toMatchObject({ signal: reason });
    expect(s.logs.some((l) => l.msg === 'drain report')).toBe(true);
    expect(s.termination()).toContain(reason);
  });

  it('ignores a second signal: one drain, one exit', async () => {
    const s = setup();
    s.signals.emit('SIGTERM', 'SIGTERM');
    s.signals.emit('SIGINT', 'SIGINT');
    await s.clock.advance(20_000);
    expect(s.exits).toEqual([0]);
    expect(s.logs.filter((l) => l.msg === 'shutdown already in progress; signal ignored')).toHaveLength(1);
  });

  it('exits at once on a signal during start-up: nothing was accepted', async () => {
    const s = setup({ serving: false });
    s.signals.emit('SIGINT', 'SIGINT');
    expect(s.exits).toEqual([0]);
    expect(s.engine.started).toBe(false);
  });

  it('exits once when a participant holds out to the end of the budget, where the overrun guard also fires', async () => {
    const s = setup();
    s.engine.register({ name: 'hostage', phase: 'exit', close: () => new Promise(() => undefined) });
    s.signals.emit('SIGTERM', 'SIGTERM');
    await s.clock.advance(9_000);
    expect(s.exits).toEqual([0]);
  });

  it('exits 1 at once, logged, if the sequence itself fails', async () => {
    const s = setup({ brokenObserver: true });
    s.signals.emit('SIGTERM', 'SIGTERM');
    await s.clock.advance(10);
    expect(s.exits).toEqual([1]);
    expect(s.logs.find((l) => l.msg === 'shutdown sequence failed; exiting now')).toMatchObject({ err: 'observer defect' });
  });

  it('a fatal error skips straight to handoff with a short budget and exits 1', async () => {
    const s = setup();
    const ran: string[] = [];
    s.engine.register({ name: 'waits-for-streams', phase: 'drain', close: () => new Promise(() => undefined) });
    s.engine.register({ name: 'hands-off', phase: 'handoff', close: async () => void ran.push('handoff') });
    s.trigger.fatal(new Error('boom'));
    await s.clock.advance(FATAL_BUDGET_MS);
    expect(s.exits).toEqual([1]);
    expect(ran).toEqual(['handoff']);
    const report = s.logs.find((l) => l.msg === 'drain report')!.report as {
      phases: { name: string; skipped?: boolean }[];
      budgetMs: number;
    };
    expect(report.phases.filter((p) => p.skipped).map((p) => p.name)).toEqual(['announce', 'stop-intake', 'drain']);
    expect(report.budgetMs).toBe(FATAL_BUDGET_MS);
    expect(s.logs.find((l) => l.msg === 'uncaught error; handing off and exiting')).toMatchObject({
      level: 'fatal',
      err: { message: 'boom' },
    });
  });

  it('a fatal error during a drain hurries it to handoff and still exits 1', async () => {
    const s = setup();
    s.engine.register({ name: 'waits-for-streams', phase: 'drain', close: () => new Promise(() => undefined) });
    s.signals.emit('SIGTERM', 'SIGTERM');
    await s.clock.advance(1_000);
    s.trigger.fatal(new Error('boom'));
    await s.clock.advance(100);
    expect(s.exits).toEqual([1]);
  });

  it('a second Ctrl-C stops waiting for the drain and hands off at once, exiting 0', async () => {
    const s = setup();
    const ran: string[] = [];
    s.engine.register({ name: 'waits-for-streams', phase: 'drain', close: () => new Promise(() => undefined) });
    s.engine.register({ name: 'hands-off', phase: 'handoff', close: async () => void ran.push('handoff') });
    s.signals.emit('SIGINT', 'SIGINT');
    await s.clock.advance(1_000);
    expect(s.engine.view.current).toBe('drain');
    s.signals.emit('SIGINT', 'SIGINT');
    await s.clock.advance(10);
    expect(ran).toEqual(['handoff']);
    expect(s.exits).toEqual([0]);
    // The budget was 9 s: the second interrupt ended it after one.
    const report = s.logs.find((l) => l.msg === 'drain report')!.report as { totalMs: number };
    expect(report.totalMs).toBeLessThan(1_100);
  });
});
