import { tooManyRequests } from '../errors/errors.js';
import type { Database, Queryable } from './database.js';

/** Advisory-lock namespaces, one per counted thing, so owners' locks of different kinds never meet. */
export const QUOTA_LOCKS = Object.freeze({ streams: 7_311_101, tasks: 7_311_102, documents: 7_311_103 });

export interface Quota {
  readonly lock: number;
  /** What is counted, for the 429's message: "streams generating", "queued or running tasks". */
  readonly what: string;
  readonly max: number;
  readonly retryAfterSeconds: number;
  /** How many the owner has now. */
  count(c: Queryable, owner: string): Promise<number>;
}

/**
 * Runs `work` in one transaction holding the owner's lock for this quota, after checking that the
 * owner's count plus `adding` stays within it. The lock is what makes the check exact across
 * replicas: two creates for one owner at once are counted one after the other.
 */
export function withinQuota<T>(
  db: Database,
  quota: Quota,
  owner: string,
  /** How many `work` adds; a function when that depends on what exists (an upsert). */
  adding: number | ((c: Queryable) => Promise<number>),
  work: (c: Queryable) => Promise<T>,
): Promise<T> {
  return db.transaction(async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [quota.lock, owner]);
    const n = await quota.count(c, owner);
    const added = typeof adding === 'number' ? adding : await adding(c);
    if (added > 0 && n + added > quota.max) {
      throw tooManyRequests(`this key has ${n} ${quota.what}; at most ${quota.max} per key`, quota.retryAfterSeconds);
    }
    return work(c);
  });
}
