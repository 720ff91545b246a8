import { afterAll, beforeAll } from 'vitest';
import { startPostgres, type PostgresInstance } from './postgres.js';
import { startService, type ServiceProcess } from './service.js';

export interface FailoverPair {
  /** The replica that takes over: started before the file's tests, killed after them. */
  readonly b: ServiceProcess;
  readonly pg: PostgresInstance;
  /** A replica's env: the file's PostgreSQL, 6 s grace (5 s budget), 40 tokens/s, 3 s leases. */
  env(replica: string): Record<string, string>;
}

/** Two replicas on one PostgreSQL, for tests where the one serving a client goes away: B, and the env for each A. */
export function useFailoverPair(bName: string, extraEnv: Record<string, string> = {}): FailoverPair {
  let pg: PostgresInstance | undefined;
  let b: ServiceProcess | undefined;
  const pair: FailoverPair = {
    get b() {
      return b!;
    },
    get pg() {
      return pg!;
    },
    env: (replica) => ({
      DATABASE_URL: pg!.url,
      REPLICA_ID: replica,
      TERMINATION_GRACE_PERIOD_SECONDS: '6',
      SHUTDOWN_SAFETY_MARGIN_SECONDS: '1',
      DEV_UPSTREAM_TOKENS_PER_SECOND: '40',
      TASK_LEASE_SECONDS: '3',
      ...extraEnv,
    }),
  };
  beforeAll(async () => {
    pg = await startPostgres();
    b = await startService(pair.env(bName));
  });
  afterAll(async () => {
    b?.kill('SIGKILL');
    await b?.exited;
    await pg?.stop();
  });
  return pair;
}
