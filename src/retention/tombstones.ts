import type { Database } from '../db/database.js';
import { ApiError, notFound } from '../errors/errors.js';
import type { Owner } from '../http/auth.js';

export type ExpiringKind = 'stream' | 'task';

/**
 * What retention deleted is remembered for one more retention period: a client resuming late
 * learns that its stream expired (410) instead of being told it never existed (404). Another
 * owner's expired resource is a 404, like another owner's live one.
 */
export class Tombstones {
  constructor(
    private readonly db: Database,
    private readonly hours: number,
  ) {}

  /** The error for a resource that is not there: 410 if its owner's resource expired, else 404. */
  async missing(kind: ExpiringKind, id: string, owner: Owner): Promise<ApiError> {
    const { rows } = await this.db.query<{ owner: string }>('SELECT owner FROM expired WHERE kind = $1 AND id = $2', [kind, id]);
    if (rows[0]?.owner !== owner) return notFound(kind);
    return new ApiError(
      410,
      'gone',
      `${kind} ${id} has expired: finished ${kind}s are deleted ${formatHours(this.hours)} after they end`,
    );
  }
}

const formatHours = (hours: number) => (hours >= 1 ? `${+hours.toFixed(2)} h` : `${+(hours * 3600).toFixed(1)} s`);
