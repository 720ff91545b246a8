/**
 * Plain JSON calls through the Service, with the retries a well-behaved client makes: a 503 or
 * 429 carrying Retry-After (a draining replica refusing new work, a limit), and a connection refused or reset
 * before any answer (an endpoint that died before the Service dropped it) are tried again.
 * Anything else that is not 2xx — a 502, a 500, a timeout — is a failed request.
 */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiCallStats {
  calls: number;
  retried503: number;
  retriedConnection?: number;
}

export async function callApi<T>(
  baseUrl: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  opts: { body?: unknown; apiKey?: string; stats?: ApiCallStats; maxAttempts?: number } = {},
): Promise<T> {
  const maxAttempts = opts.maxAttempts ?? 30;
  for (let attempt = 1; ; attempt++) {
    if (opts.stats) opts.stats.calls++;
    let res: Response;
    try {
      res = await fetch(new URL(path, baseUrl), {
        method,
        headers: {
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}),
        },
        body: opts.body !== undefined ? JSON.stringify(opts.body) : null,
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      const cause = (err as Error).cause as NodeJS.ErrnoException | undefined;
      const beforeAnswer = ['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE'].includes(cause?.code ?? '');
      if (beforeAnswer && attempt < maxAttempts) {
        if (opts.stats) opts.stats.retriedConnection = (opts.stats.retriedConnection ?? 0) + 1;
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      throw new ApiError(0, `${method} ${path}: ${cause ?? (err as Error).message}`);
    }
    const retryAfter = res.headers.get('retry-after');
    if ((res.status === 503 || res.status === 429) && retryAfter !== null && attempt < maxAttempts) {
      await res.body?.cancel();
      if (opts.stats && res.status === 503) opts.stats.retried503++;
      await new Promise((r) => setTimeout(r, Math.min(Number(retryAfter) * 1000 || 100, 5_000)));
      continue;
    }
    const text = await res.text();
    if (!res.ok) throw new ApiError(res.status, `${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }
}
