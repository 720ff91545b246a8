import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { launchChromium } from './chromium.js';
import { freePort, startPostgres, type PostgresInstance } from './postgres.js';
import { startService, type ServiceProcess } from './service.js';

/** One Service address: the replicas started for it listen there one after another, as a restart would leave it. */
export interface PageService {
  readonly port: number;
  start(replicaId: string): Promise<ServiceProcess>;
}

export interface PageHarness {
  readonly browser: Browser;
  /** A Service on a free port, its replicas on the file's PostgreSQL: 6 s grace (5 s budget), 40 tokens/s. */
  service(env?: Record<string, string>): Promise<PageService>;
}

/** What a browser test of a page needs: PostgreSQL, headless Chromium, and every replica it starts killed at the end. */
export function usePageHarness(): PageHarness {
  let pg: PostgresInstance | undefined;
  let browser: Browser | undefined;
  const live: ServiceProcess[] = [];
  beforeAll(async () => {
    pg = await startPostgres();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    for (const s of live) s.kill('SIGKILL');
    await pg?.stop();
  });
  return {
    get browser() {
      return browser!;
    },
    async service(env = {}) {
      const port = await freePort();
      return {
        port,
        async start(replicaId) {
          const s = await startService({
            PORT: String(port),
            DATABASE_URL: pg!.url,
            TERMINATION_GRACE_PERIOD_SECONDS: '6',
            SHUTDOWN_SAFETY_MARGIN_SECONDS: '1',
            DEV_UPSTREAM_TOKENS_PER_SECOND: '40',
            ...env,
            REPLICA_ID: replicaId,
          });
          live.push(s);
          return s;
        },
      };
    },
  };
}
