/**
 * Typed errors with stable codes. The HTTP layer maps ApiError to `{"error":{"code","message"}}`
 * (or, on the OpenAI-compatible routes, OpenAI's `{"error":{"message","type","param","code"}}`)
 * in one place (http/errors.ts).
 */
export class ApiError extends Error {
  /** The request field the error is about (OpenAI's `param`), when there is one. */
  readonly param: string | null;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown; param?: string | null },
  ) {
    super(message, options);
    this.name = 'ApiError';
    this.param = options?.param ?? null;
  }
}

/**
 * What a client told to come back later is sent: `Retry-After` (seconds, RFC 9110) and, for the
 * openai SDKs, `retry-after-ms` and `x-should-retry: true`, which they honour before their own
 * backoff (openai-node `shouldRetry`/`retryRequest` in src/client.ts).
 */
export const retryHeaders = (seconds: number): Record<string, string> => ({
  'Retry-After': String(Math.max(0, Math.ceil(seconds))),
  'retry-after-ms': String(Math.max(0, Math.round(seconds * 1000))),
  'x-should-retry': 'true',
});

export const badRequest = (code: string, message: string, param?: string) =>
  new ApiError(400, code, message, {}, param === undefined ? undefined : { param });
export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);
export const conflict = (code: string, message: string) => new ApiError(409, code, message);
export const tooManyRequests = (message: string, retryAfterSeconds: number) =>
  new ApiError(429, 'too_many_requests', message, retryHeaders(retryAfterSeconds));
export const unavailable = (code: string, message: string, retryAfterSeconds: number, options?: { cause?: unknown }) =>
  new ApiError(503, code, message, retryHeaders(retryAfterSeconds), options);

/** Start-up configuration problem: the process prints it on one line and exits 1. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
