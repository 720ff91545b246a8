import { collectDefaultMetrics, Registry } from 'prom-client';

/** One registry per process: the admin server serves it, every metric family registers on it. */
export function createRegistry(labels: Record<string, string>): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  return registry;
}
