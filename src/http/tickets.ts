import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ApiKey } from '../config/load.js';

/** How long a stream ticket opens its stream: long enough for a browser to reconnect through a rollout. */
export const TICKET_TTL_SECONDS = 3600;

const mac = (key: ApiKey, streamId: string, expires: number) =>
  createHmac('sha256', key.key).update(`lastcall-stream-ticket\u0000${streamId}\u0000${key.owner}\u0000${expires}`).digest();

/**
 * A short-lived credential for one stream, for a browser's EventSource, which cannot send an
 * Authorization header: `?ticket=` on the stream's URL opens that stream and nothing else, and
 * the key itself never goes into a URL (ingress logs, browser history). It is an HMAC keyed by the
 * caller's own API key, so every replica can check it with no shared secret of its own.
 */
export function issueTicket(key: ApiKey, streamId: string, nowSeconds = Math.floor(Date.now() / 1000)): string {
  const expires = nowSeconds + TICKET_TTL_SECONDS;
  return `${expires}.${mac(key, streamId, expires).toString('base64url')}`;
}

/** The key whose ticket this is, if it is one for `streamId` and has not expired. */
export function verifyTicket(
  keys: readonly ApiKey[],
  streamId: string,
  ticket: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): ApiKey | undefined {
  const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(ticket);
  if (!m) return undefined;
  const expires = Number(m[1]);
  if (expires < nowSeconds) return undefined;
  const presented = Buffer.from(m[2]!, 'base64url');
  return keys.find((k) => timingSafeEqual(mac(k, streamId, expires), presented));
}
