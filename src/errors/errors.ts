/**
 * Typed errors with stable codes. The HTTP layer maps ApiError to
 * `{"error":{"code","message"}}` in one place (http/errors.ts).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ApiError';
  }
}

export const badRequest = (code: string, message: string) => new ApiError(400, code, message);
export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);
export const conflict = (code: string, message: string) => new ApiError(409, code, message);
export const tooManyRequests = (message: string, retryAfterSeconds: number) =>
  new ApiError(429, 'too_many_requests', message, { 'Retry-After': String(retryAfterSeconds) });
export const unavailable = (code: string, message: string, retryAfterSeconds: number, options?: { cause?: unknown }) =>
  new ApiError(503, code, message, { 'Retry-After': String(retryAfterSeconds) }, options);

/** Start-up configuration problem: the process prints it on one line and exits 1. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
