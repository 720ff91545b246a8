import { APIConnectionError, APIError, type OpenAI } from 'openai';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChatCompletionCreateParamsStreaming } from 'openai/resources/chat/completions';
import { request, type Dispatcher } from 'undici';

/** Opens a streamed chat completion and gives its body, the SSE bytes as they arrive. */
export type ChatOpener = (body: ChatCompletionCreateParamsStreaming, signal: AbortSignal) => Promise<AsyncIterable<Uint8Array>>;

/**
 * How a streamed chat completion is opened. An answer that starts (2xx) is read through undici's
 * request API, a Node stream of the body: a generation holds it for its whole answer, and the
 * SDK's fetch keeps a Request, a Response, four web streams and an abort-signal chain alive with
 * it, about 40 KB per open stream (bench/streams-memory.ts). Anything else ends as the SDK
 * would end it (openai-node README: connection errors, 408, 409, 429 and 5xx are retried,
 * `maxRetries` times, unless `x-should-retry` says otherwise): a status it would not retry, or
 * any failure with no retries configured, becomes its error at once; otherwise, after the delay
 * it would wait (`retry-after-ms`, `retry-after`, else about half a second), the SDK makes the
 * remaining attempts with its own backoff and errors.
 */
export function chatOpener(
  client: OpenAI,
  dispatcher?: Dispatcher,
  headers: () => Record<string, string> = () => ({}),
): ChatOpener {
  const url = `${client.baseURL.replace(/\/$/, '')}/chat/completions`;
  const retries = client.maxRetries;
  const viaSdk = async (body: ChatCompletionCreateParamsStreaming, signal: AbortSignal, refused?: Headers) => {
    await sleep(retryDelayMs(refused), undefined, { signal });
    const response = await client.chat.completions.create(body, { signal, maxRetries: retries - 1 }).asResponse();
    if (!response.body) throw new APIError(response.status, undefined, 'chat completion stream has no body', response.headers);
    return response.body as unknown as AsyncIterable<Uint8Array>;
  };
  return async (body, signal) => {
    let answer: Dispatcher.ResponseData;
    try {
      answer = await request(url, {
        method: 'POST',
        dispatcher,
        signal,
        headersTimeout: client.timeout,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          authorization: `Bearer ${client.apiKey}`,
          ...headers(),
        },
        body: ownBuffer(JSON.stringify(body)),
      });
    } catch (err) {
      if (signal.aborted) throw err;
      if (retries === 0) throw new APIConnectionError({ cause: err as Error });
      return viaSdk(body, signal);
    }
    const { statusCode, body: stream } = answer;
    if (statusCode >= 200 && statusCode < 300) return stream;
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      for (const v of Array.isArray(value) ? value : [value ?? '']) responseHeaders.append(name, v);
    }
    if (retries > 0 && retryable(statusCode, responseHeaders)) {
      await stream.dump();
      return viaSdk(body, signal, responseHeaders);
    }
    const text = await stream.text().catch((err: Error) => err.message);
    const json = safeJson(text);
    throw APIError.generate(statusCode, json, json ? undefined : text, responseHeaders);
  };
}

function retryable(status: number, headers: Headers): boolean {
  const should = headers.get('x-should-retry');
  if (should === 'true') return true;
  if (should === 'false') return false;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/**
 * The request body in an allocation of its own: undici holds it until the answer ends, and a
 * small Buffer from Node's shared pool would keep a whole 8 KB slab alive per open stream.
 */
function ownBuffer(json: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(json));
  bytes.write(json);
  return bytes;
}

/** The SDK's wait before its first retry: what the answer asks for (under a minute), else 0.5 s less up to a quarter. */
function retryDelayMs(headers: Headers | undefined): number {
  const ms = Number(headers?.get('retry-after-ms') ?? NaN);
  if (ms >= 0 && ms < 60_000) return ms;
  const seconds = Number(headers?.get('retry-after') ?? NaN);
  if (seconds >= 0 && seconds < 60) return seconds * 1000;
  return 500 * (1 - Math.random() * 0.25);
}

function safeJson(text: string): object | undefined {
  try {
    return JSON.parse(text) as object;
  } catch {
    return undefined;
  }
}
