import { computeBudget, type BudgetInputs } from '../src/drain/budget.js';
import { DrainEngine, type DrainObserver } from '../src/drain/engine.js';
import { PHASE_TABLE } from '../src/drain/phases.js';
import { FakeClock } from './fake-clock.js';

const noop = () => undefined;

/** The real engine and phase table on simulated time, for unit tests of the drain. */
export function engineOnFakeClock(budget: Partial<BudgetInputs> = {}, observer: Partial<DrainObserver> = {}) {
  const clock = new FakeClock();
  const computed = computeBudget({
    gracePeriodSeconds: 30,
    preStopSeconds: 0,
    safetyMarginSeconds: 2,
    endpointPropagationSeconds: 0,
    finalScrapeWaitSeconds: 0,
    ...budget,
  });
  const engine = new DrainEngine({
    clock,
    table: PHASE_TABLE,
    budget: computed,
    replica: 'r1',
    observer: { phaseStarted: noop, phaseEnded: noop, participantFailed: noop, ...observer },
  });
  return { clock, budget: computed, engine };
}
