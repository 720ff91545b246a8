import { envSchema, type Env } from './schema.js';
import { computeBudget, type ShutdownBudget } from '../drain/budget.js';
import { ConfigError } from '../errors/errors.js';

export interface Config extends Readonly<Env> {
  readonly apiKeys: readonly string[];
  readonly endpointPropagationSeconds: number;
  readonly budget: ShutdownBudget;
}

/** Validates the whole environment once; throws one ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const endpointPropagationSeconds =
    e.ENDPOINT_PROPAGATION_SECONDS ?? (e.PRESTOP_SLEEP_SECONDS > 0 ? 0 : 5);
  const budget = computeBudget({
    gracePeriodSeconds: e.TERMINATION_GRACE_PERIOD_SECONDS,
    preStopSeconds: e.PRESTOP_SLEEP_SECONDS,
    safetyMarginSeconds: e.SHUTDOWN_SAFETY_MARGIN_SECONDS,
    endpointPropagationSeconds,
    finalScrapeWaitSeconds: e.FINAL_SCRAPE_WAIT_SECONDS,
  });
  const apiKeys = (e.API_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  return Object.freeze({ ...e, apiKeys, endpointPropagationSeconds, budget });
}
