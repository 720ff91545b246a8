import { describe, expect, it } from 'vitest';
import { computeBudget } from '../../../src/drain/budget.js';
import { MIN_RESERVED_MS, PHASE_TABLE } from '../../../src/drain/phases.js';
import { PHASES } from '../../../src/drain/phases.js';

describe('computeBudget', () => {
  it('is grace − preStop − margin, as the kubelet counts it', () => {
    const b = computeBudget({ gracePeriodSeconds: 30, preStopSeconds: 5, safetyMarginSeconds: 2, endpointPropagationSeconds: 0 });
    expect(b.totalMs).toBe(23_000);
  });

  it('refuses a budget that cannot hold propagation plus the reserves, naming the numbers', () => {
    expect(() =>
      computeBudget({ gracePeriodSeconds: 10, preStopSeconds: 5, safetyMarginSeconds: 2, endpointPropagationSeconds: 2 }),
    ).toThrow(/TERMINATION_GRACE_PERIOD_SECONDS \(10\).*PRESTOP_SLEEP_SECONDS \(5\).*= 3s.*need 4s/);
  });

  it('reserves the final-scrape wait and names it when the budget is too small', () => {
    expect(() =>
      computeBudget({
        gracePeriodSeconds: 5,
        preStopSeconds: 0,
        safetyMarginSeconds: 2,
        endpointPropagationSeconds: 0,
        finalScrapeWaitSeconds: 1.5,
      }),
    ).toThrow(/FINAL_SCRAPE_WAIT_SECONDS \(1.5\).*need 3.5s/);
    expect(
      computeBudget({
        gracePeriodSeconds: 6,
        preStopSeconds: 0,
        safetyMarginSeconds: 2,
        endpointPropagationSeconds: 0,
        finalScrapeWaitSeconds: 1.5,
      }).finalScrapeMs,
    ).toBe(1_500);
  });

  it('accepts the smallest budget that fits', () => {
    const b = computeBudget({ gracePeriodSeconds: 4, preStopSeconds: 0, safetyMarginSeconds: 2, endpointPropagationSeconds: 0 });
    expect(b.totalMs).toBe(MIN_RESERVED_MS);
  });
});

describe('PHASE_TABLE', () => {
  it('lists the contract’s phases in order', () => {
    expect(PHASE_TABLE.map((p) => p.name)).toEqual([...PHASES]);
  });
});
