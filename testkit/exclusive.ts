import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';

/**
 * Runs `fn` while no other process on this machine runs one under the same name: the test files
 * that each start a whole local cluster (the e2e scenario, the chaos run) overload a 2-core
 * machine when vitest runs them side by side, and then measure the machine, not the product.
 */
export async function exclusively<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const release = await lockfile.lock(path.join(os.tmpdir(), `exclusive-${name}`), {
    realpath: false,
    // A holder refreshes the lock every 10 s; one that died leaves it stale after 30 s.
    stale: 30_000,
    update: 10_000,
    retries: { retries: 1_200, minTimeout: 1_000, maxTimeout: 1_000 },
  });
  try {
    return await fn();
  } finally {
    await release();
  }
}
