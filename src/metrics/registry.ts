import { collectDefaultMetrics, Registry, type Counter } from 'prom-client';

/** One registry per process: the admin server serves it, every metric family registers on it. */
export function createRegistry(labels: Record<string, string>): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  // prom-client exports these sums as gauges named *_total, which Prometheus' conventions (and
  // `promtool check metrics`) reserve for counters; the same numbers are in the per-type series
  // nodejs_active_{handles,requests,resources}{type}, so nothing is lost.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
  return registry;
}

/**
 * Creates a labelled counter's series at 0 for every known label value, so rate()/increase()
 * over a short window see the first step instead of a series that appears mid-way (or never,
 * on a replica that exits right after its first increment).
 */
export function zeroSeries<L extends string>(counter: Counter<L>, label: L, values: readonly string[]): void {
  for (const value of values) counter.inc({ [label]: value } as Partial<Record<L, string>>, 0);
}
