import { APIError } from 'openai';
import { UpstreamError } from './upstream.js';

/**
 * What a failed upstream call means for the stream: network failures (a refused or cut connection,
 * a timeout), 5xx and 429 may pass, so a retry from the log may fix them; any other 4xx will not.
 * The SDK reports an error payload inside a stream as an APIError without a status: the upstream
 * broke mid-answer, retryable like a cut connection.
 */
export function upstreamError(err: unknown, what: string): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const status = statusOf(err);
  if (status !== undefined) {
    const retryable = status === 429 || status >= 500;
    return new UpstreamError(`${what}: upstream answered ${status}: ${(err as Error).message}`, retryable, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new UpstreamError(`${what}: ${message}`, true, { cause: err });
}

/** The upstream's status for a failed call, if it answered at all. */
export const statusOf = (err: unknown): number | undefined =>
  err instanceof APIError ? (err.status as number | undefined) : undefined;
