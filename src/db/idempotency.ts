import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { badRequest, conflict } from '../errors/errors.js';
import { textProblem } from '../http/validate.js';
import type { Database, Queryable } from './database.js';

/** What a POST that starts work is, for its `Idempotency-Key`: the key and a digest of the request. */
export interface IdempotencyKey {
  readonly key: string;
  readonly hash: string;
}

/** The thing an idempotency key started. */
export type IdempotentKind = 'stream' | 'task';

/** Longest key accepted: clients send UUIDs (the openai SDKs: `stainless-node-retry-<uuid>`). */
const MAX_KEY_CHARS = 255;

/**
 * The `Idempotency-Key` of a request that starts work, and a digest of what it asks (route and
 * parsed body), or undefined when the client sent none. A retry with the same key must ask the
 * same thing: a different body under one key is a 409.
 */
export function idempotencyKey(req: Request, body: unknown): IdempotencyKey | undefined {
  const key = req.get('idempotency-key');
  if (key === undefined) return undefined;
  if (key.length === 0 || key.length > MAX_KEY_CHARS || textProblem(key)) {
    throw badRequest('invalid_idempotency_key', `Idempotency-Key must be 1 to ${MAX_KEY_CHARS} characters`);
  }
  const hash = createHash('sha256')
    .update(`${req.method} ${req.baseUrl}${req.path}\u0000${JSON.stringify(body)}`)
    .digest('hex');
  return { key, hash };
}

/**
 * Idempotency keys, scoped to the API key that sent them and stored in the same transaction as
 * what they started, so a retry (a client that lost the answer, the openai SDK retrying a 503)
 * joins the existing stream or task instead of paying the upstream twice.
 */
export class IdempotencyKeys {
  constructor(private readonly db: Database) {}

  /** The resource this key started for `owner`, if any; a 409 when the key was used for a different request. */
  async find(owner: string, k: IdempotencyKey, kind: IdempotentKind): Promise<string | undefined> {
    const { rows } = await this.db.query<{ request_hash: string; kind: string; resource_id: string }>(
      'SELECT request_hash, kind, resource_id FROM idempotency_keys WHERE owner = $1 AND key = $2',
      [owner, k.key],
    );
    const row = rows[0];
    if (!row) return undefined;
    if (row.request_hash !== k.hash || row.kind !== kind) {
      throw conflict('idempotency_key_reused', 'this Idempotency-Key was already used for a different request');
    }
    return row.resource_id;
  }

  /** Records the key inside the transaction that creates the resource; a concurrent twin fails it (unique). */
  async record(c: Queryable, owner: string, k: IdempotencyKey, kind: IdempotentKind, resourceId: string): Promise<void> {
    await c.query('INSERT INTO idempotency_keys (owner, key, request_hash, kind, resource_id) VALUES ($1, $2, $3, $4, $5)', [
      owner,
      k.key,
      k.hash,
      kind,
      resourceId,
    ]);
  }
}
