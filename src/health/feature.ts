import type { ListenConfig } from '../config/load.js';
import type { CoreDeps, Feature } from '../feature.js';
import { createAdminServer } from './admin-server.js';

export interface AdminConfig extends ListenConfig {
  /** When > 0, `exit` waits (at most this long) for Prometheus to scrape once more. */
  readonly finalScrapeMs: number;
}

/**
 * Probes and metrics on their own port, listening from the first moment (the kubelet's startup
 * probe watches the model load) until the process exits; its only part in the shutdown is the
 * optional wait for a final scrape.
 */
export async function createAdminFeature(deps: CoreDeps, config: AdminConfig): Promise<Feature & { readonly port: number }> {
  const admin = createAdminServer({ registry: deps.registry, drain: deps.drain, host: config.host, port: config.port });
  const port = await admin.listen();
  return {
    name: 'admin',
    port,
    participants:
      config.finalScrapeMs > 0
        ? [
            {
              name: 'metrics:final-scrape',
              phase: 'exit',
              async close(deadline) {
                const wait = AbortSignal.any([deadline.signal, AbortSignal.timeout(config.finalScrapeMs)]);
                return { scraped: await admin.nextScrape(wait) };
              },
            },
          ]
        : [],
  };
}
