import { ConfigError } from '../errors/errors.js';
import { MIN_RESERVED_MS } from './phases.js';

export interface BudgetInputs {
  readonly gracePeriodSeconds: number;
  readonly preStopSeconds: number;
  readonly safetyMarginSeconds: number;
  readonly endpointPropagationSeconds: number;
  readonly finalScrapeWaitSeconds?: number;
}

export interface ShutdownBudget extends BudgetInputs {
  /** Time from SIGTERM to the promised exit: grace − preStop − margin. */
  readonly totalMs: number;
  readonly propagationMs: number;
  /** Kept for the exit phase on top of its reserve, to wait for a final scrape. */
  readonly finalScrapeMs: number;
}

/**
 * The kubelet counts the grace period from the start of preStop, so the time left at SIGTERM is
 * grace − preStop; the margin is kept in hand against SIGKILL. Refuses budgets that cannot hold
 * the propagation delay plus every phase's reserve, naming the numbers.
 */
export function computeBudget(inputs: BudgetInputs): ShutdownBudget {
  const totalMs = Math.round((inputs.gracePeriodSeconds - inputs.preStopSeconds - inputs.safetyMarginSeconds) * 1000);
  const propagationMs = Math.round(inputs.endpointPropagationSeconds * 1000);
  const finalScrapeMs = Math.round((inputs.finalScrapeWaitSeconds ?? 0) * 1000);
  const needed = propagationMs + MIN_RESERVED_MS + finalScrapeMs;
  if (totalMs < needed) {
    throw new ConfigError(
      `shutdown budget too small: TERMINATION_GRACE_PERIOD_SECONDS (${inputs.gracePeriodSeconds}) − ` +
        `PRESTOP_SLEEP_SECONDS (${inputs.preStopSeconds}) − SHUTDOWN_SAFETY_MARGIN_SECONDS ` +
        `(${inputs.safetyMarginSeconds}) = ${totalMs / 1000}s, but ENDPOINT_PROPAGATION_SECONDS ` +
        `(${inputs.endpointPropagationSeconds})` +
        `${finalScrapeMs ? ` and FINAL_SCRAPE_WAIT_SECONDS (${inputs.finalScrapeWaitSeconds})` : ''} ` +
        `plus the phases' reserves need ${needed / 1000}s`,
    );
  }
  return Object.freeze({ ...inputs, totalMs, propagationMs, finalScrapeMs });
}
