import { describe, expect, it } from 'vitest';
import type { Participant, PhaseRecord } from '../../../src/drain/types.js';
import { PHASES } from '../../../src/drain/phases.js';
import { engineOnFakeClock } from '../../../testkit/drain.js';

function setup(opts: { grace?: number; preStop?: number; margin?: number; propagation?: number; finalScrape?: number } = {}) {
  const started: string[] = [];
  const ended: PhaseRecord[] = [];
  const { clock, budget, engine } = engineOnFakeClock(
    {
      gracePeriodSeconds: opts.grace ?? 30,
      preStopSeconds: opts.preStop ?? 0,
      safetyMarginSeconds: opts.margin ?? 2,
      endpointPropagationSeconds: opts.propagation ?? 0,
      finalScrapeWaitSeconds: opts.finalScrape ?? 0,
    },
    { phaseStarted: (p) => started.push(p), phaseEnded: (r) => ended.push(r) },
  );
  engine.markServing();
  return { clock, budget, engine, started, ended };
}

describe('DrainEngine', () => {
  it('runs every phase in table order and reports each one', async () => {
    const { engine, clock, started } = setup();
    const done = engine.start('SIGTERM');
    await clock.advance(10);
    const report = await done;
    expect(started).toEqual([...PHASES]);
    expect(report.phases.map((p) => p.name)).toEqual([...PHASES]);
    expect(report.withinBudget).toBe(true);
    expect(engine.view.current).toBe('exited');
  });

  it('keeps serving through announce for exactly the propagation delay', async () => {
    const { engine, clock } = setup({ propagation: 5 });
    const done = engine.start('SIGTERM');
    expect(engine.view.current).toBe('announce');
    expect(engine.view.draining).toBe(true);
    expect(engine.view.reached('stop-intake')).toBe(false);
    await clock.advance(4_999);
    expect(engine.view.current).toBe('announce');
    await clock.advance(2);
    expect(engine.view.reached('stop-intake')).toBe(true);
    const report = await done;
    expect(report.phases[0]).toMatchObject({ name: 'announce', durationMs: 5_000, allowedMs: 5_000 });
  });

  it('abandons a participant that ignores its deadline and still finishes inside the budget', async () => {
    const { engine, clock, budget } = setup({ grace: 10, margin: 2 });
    const stuck: Participant = { name: 'stuck', phase: 'drain', close: () => new Promise(() => undefined) };
    const after: string[] = [];
    engine.register(stuck);
    engine.register({ name: 'later', phase: 'release', close: async () => void after.push('release ran') });
    const done = engine.start('SIGTERM');
    await clock.advance(budget.totalMs);
    const report = await done;
    const drain = report.phases.find((p) => p.name === 'drain')!;
    expect(drain.participants).toEqual([expect.objectContaining({ name: 'stuck', outcome: 'timeout' })]);
    // Later phases keep their reserves: handoff + release + exit = 1750 ms.
    expect(drain.startedAtMs + drain.durationMs).toBe(budget.totalMs - 1_750);
    expect(after).toEqual(['release ran']);
    expect(report.totalMs).toBeLessThanOrEqual(budget.totalMs);
    expect(report.withinBudget).toBe(true);
  });

  it('ends a phase as soon as its participants finish', async () => {
    const { engine, clock } = setup();
    engine.register({
      name: 'slow-drain',
      phase: 'drain',
      close: () => new Promise<void>((r) => clock.setTimer(1_200, r)),
    });
    const done = engine.start('SIGTERM');
    await clock.advance(1_300);
    const report = await done;
    expect(report.phases.find((p) => p.name === 'drain')?.durationMs).toBe(1_200);
    expect(report.totalMs).toBe(1_200);
  });

  it('runs one phase’s participants in parallel and records failures without stopping others', async () => {
    const { engine, clock } = setup();
    const log: string[] = [];
    engine.register({
      name: 'a',
      phase: 'release',
      close: () => new Promise<void>((r) => clock.setTimer(300, () => (log.push('a'), r()))),
    });
    engine.register({
      name: 'b',
      phase: 'release',
      close: () => new Promise<void>((r) => clock.setTimer(300, () => (log.push('b'), r()))),
    });
    engine.register({
      name: 'boom',
      phase: 'release',
      close: async () => {
        throw new Error('kaput');
      },
    });
    engine.register({ name: 'reports', phase: 'handoff', close: async () => ({ handedOff: 3 }) });
    const done = engine.start('SIGTERM');
    await clock.advance(400);
    const report = await done;
    const release = report.phases.find((p) => p.name === 'release')!;
    expect(release.durationMs).toBe(300);
    expect(log.sort()).toEqual(['a', 'b']);
    expect(release.participants.find((p) => p.name === 'boom')).toMatchObject({ outcome: 'error', error: 'kaput' });
    expect(report.phases.find((p) => p.name === 'handoff')?.participants[0]?.detail).toEqual({ handedOff: 3 });
  });

  it('starts once: a second start returns the same run and registration closes', async () => {
    const { engine, clock } = setup();
    const first = engine.start('SIGTERM');
    const second = engine.start('SIGINT');
    expect(second).toBe(first);
    expect(() => engine.register({ name: 'late', phase: 'drain', close: async () => undefined })).toThrow(/shutdown has begun/);
    await clock.advance(10);
    expect((await first).reason).toBe('SIGTERM');
  });

  it('gives each participant its deadline as an AbortSignal', async () => {
    const { engine, clock, budget } = setup({ grace: 6, margin: 1 });
    let aborted = false;
    let remainingAtStart = -1;
    engine.register({
      name: 'cooperative',
      phase: 'drain',
      close: (deadline) =>
        new Promise<void>((resolve) => {
          remainingAtStart = deadline.remainingMs();
          deadline.signal.addEventListener('abort', () => {
            aborted = true;
            resolve();
          });
        }),
    });
    const done = engine.start('SIGTERM');
    await clock.advance(budget.totalMs);
    const report = await done;
    // stop-intake finished at once, so drain may use everything but the later reserves.
    expect(remainingAtStart).toBe(budget.totalMs - 1_750);
    expect(aborted).toBe(true);
    // Work still pending when the phase's time ran out is reported as such, even if it stopped politely.
    expect(report.phases.find((p) => p.name === 'drain')?.participants[0]?.outcome).toBe('timeout');
  });

  it('notifies listeners of every transition, even when one throws', async () => {
    const { engine, clock } = setup();
    const seen: string[] = [];
    engine.view.onChange(() => {
      throw new Error('bad listener');
    });
    engine.view.onChange((s) => seen.push(s));
    const done = engine.start('SIGTERM');
    await clock.advance(10);
    await done;
    expect(seen).toEqual([...PHASES, 'exited']);
  });

  it('keeps the final-scrape wait for the exit phase, out of the drain phase', async () => {
    const { engine, clock, budget } = setup({ grace: 10, margin: 2, finalScrape: 1.5 });
    engine.register({ name: 'stuck', phase: 'drain', close: () => new Promise(() => undefined) });
    let exitAllowed = -1;
    engine.register({
      name: 'final-scrape',
      phase: 'exit',
      close: (deadline) => {
        exitAllowed = deadline.remainingMs();
        return Promise.resolve();
      },
    });
    const done = engine.start('SIGTERM');
    await clock.advance(budget.totalMs);
    const report = await done;
    const drain = report.phases.find((p) => p.name === 'drain')!;
    expect(drain.startedAtMs + drain.durationMs).toBe(budget.totalMs - 1_750 - 1_500);
    expect(exitAllowed).toBeGreaterThanOrEqual(1_750);
    expect(report.withinBudget).toBe(true);
  });
});
