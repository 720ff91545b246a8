import { createParser, type EventSourceMessage } from 'eventsource-parser';

/**
 * A typed client for lastcall's resumable streams, used by the tests, the benchmarks and the e2e
 * harness. It follows `end` events and cut connections by reconnecting with Last-Event-ID,
 * retries 503/429 after Retry-After, and checks that sequence numbers arrive gap-free and never
 * repeat — so a result it returns is the exact text of one uninterrupted generation.
 */
export interface StreamClientOptions {
  apiKey?: string;
  signal?: AbortSignal;
  /** Requests made in all (the POST and every reconnect); default 50. */
  maxAttempts?: number;
  onEvent?: (e: StreamEvent) => void;
  /** Called once the server named the stream, so a caller that leaves early can resume it later. */
  onStreamId?: (streamId: string) => void;
  /** Wait before reconnecting after a cut connection or a refused one; default 100 ms. */
  retryDelayMs?: number;
}

export interface StreamEvent {
  event: string;
  id?: number;
  data: unknown;
}

export interface StreamResult {
  streamId: string;
  text: string;
  /** Sequence number of the last token received (the `done` event's id is this + 1). */
  lastEventId: number;
  finishReason: string;
  usage?: unknown;
  /** Reconnections after an `end` event or a cut connection. */
  resumes: number;
  /** `reset` events: the upstream could not continue and the answer started over (`text` holds only the last one). */
  resets: number;
  retried503: number;
  /** Events received (tokens, done, end, error). */
  events: number;
  error?: { message: string };
}

export interface ChatBody {
  messages: { role: string; content: string }[];
  max_tokens?: number;
}

/** The server answered with an HTTP error that retrying will not fix. */
export class StreamHttpError extends Error {
  override name = 'StreamHttpError';
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** The server broke the protocol: a gap, a repeat, or a malformed event. */
export class StreamProtocolError extends Error {
  override name = 'StreamProtocolError';
}

export function streamChat(baseUrl: string, body: ChatBody, opts: StreamClientOptions = {}): Promise<StreamResult> {
  return follow(baseUrl, { body }, 0, opts);
}

export function resumeStream(
  baseUrl: string,
  streamId: string,
  afterSeq: number,
  opts: StreamClientOptions = {},
): Promise<StreamResult> {
  return follow(baseUrl, { streamId }, afterSeq, opts);
}

/** Resolves once `GET {adminUrl}/readyz` answers 200. */
export async function waitReady(adminUrl: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(`${adminUrl}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > until) throw new Error(`${adminUrl}/readyz not ready after ${timeoutMs} ms`);
    await delay(100);
  }
}

type Ending = { kind: 'final' } | { kind: 'end'; retryAfterMs: number } | { kind: 'cut' };

async function follow(
  baseUrl: string,
  start: { body?: ChatBody; streamId?: string },
  afterSeq: number,
  opts: StreamClientOptions,
): Promise<StreamResult> {
  const base = baseUrl.replace(/\/+$/, '');
  const result: StreamResult = {
    streamId: start.streamId ?? '',
    text: '',
    lastEventId: afterSeq,
    finishReason: '',
    resumes: 0,
    resets: 0,
    retried503: 0,
    events: 0,
  };
  const maxAttempts = opts.maxAttempts ?? 50;
  const retryDelayMs = opts.retryDelayMs ?? 100;
  const auth: Record<string, string> = opts.apiKey ? { Authorization: `Bearer ${opts.apiKey}` } : {};
  let wait = 0;
  for (let attempt = 1; ; attempt++) {
    if (attempt > maxAttempts) {
      throw new Error(
        `stream ${result.streamId || '(not started)'}: gave up after ${maxAttempts} attempts at event ${result.lastEventId}`,
      );
    }
    if (wait > 0) await delay(wait, opts.signal);
    let res: Response;
    try {
      res = result.streamId
        ? await fetch(`${base}/v1/streams/${encodeURIComponent(result.streamId)}`, {
            headers: { ...auth, Accept: 'text/event-stream', 'Last-Event-ID': String(result.lastEventId) },
            signal: opts.signal,
          })
        : await fetch(`${base}/v1/chat/stream`, {
            method: 'POST',
            headers: { ...auth, Accept: 'text/event-stream', 'Content-Type': 'application/json' },
            body: JSON.stringify(start.body),
            signal: opts.signal,
          });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      wait = retryDelayMs; // refused or reset before an answer: the replica is gone or not up yet
      continue;
    }
    if (res.status === 503 || res.status === 429) {
      if (res.status === 503) result.retried503++;
      await res.body?.cancel();
      wait = retryAfterMs(res) ?? retryDelayMs;
      continue;
    }
    if (!res.ok) throw await httpError(res);
    if (!result.streamId) {
      const id = res.headers.get('lastcall-stream-id');
      if (!id) throw new StreamProtocolError('response has no Lastcall-Stream-Id header');
      result.streamId = id;
      opts.onStreamId?.(id);
    }
    const ending = await consume(res, result, opts);
    if (ending.kind === 'final') return result;
    result.resumes++;
    wait = ending.kind === 'end' ? ending.retryAfterMs : retryDelayMs;
  }
}

/** Reads one connection's events into `result` until a final event, an `end`, or the connection drops. */
async function consume(res: Response, result: StreamResult, opts: StreamClientOptions): Promise<Ending> {
  let ending: Ending | undefined;
  const parser = createParser({
    onEvent: (msg) => {
      if (!ending) ending = apply(msg, result, opts);
    },
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  try {
    while (!ending) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(value);
    }
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    if (err instanceof StreamProtocolError) throw err;
    // The connection was cut mid-stream (replica killed, proxy reset): resume from the last id.
  }
  await reader.cancel().catch(() => undefined);
  return ending ?? { kind: 'cut' };
}

function apply(msg: EventSourceMessage, result: StreamResult, opts: StreamClientOptions): Ending | undefined {
  const event = msg.event ?? 'message';
  const id = msg.id === undefined ? undefined : Number(msg.id);
  let data: unknown;
  try {
    data = JSON.parse(msg.data);
  } catch {
    throw new StreamProtocolError(`${event} event with non-JSON data: ${msg.data.slice(0, 200)}`);
  }
  result.events++;
  opts.onEvent?.({ event, ...(id === undefined ? {} : { id }), data });
  const expected = result.lastEventId + 1;
  const d = data as Record<string, unknown>;
  switch (event) {
    case 'token':
      if (id !== expected) {
        throw new StreamProtocolError(
          `stream ${result.streamId}: token id ${msg.id} after ${result.lastEventId} ` +
            `(${id !== undefined && id <= result.lastEventId ? 'repeat' : 'gap'})`,
        );
      }
      result.text += String(d.text);
      result.lastEventId = id;
      return undefined;
    case 'reset':
      if (id !== expected)
        throw new StreamProtocolError(`stream ${result.streamId}: reset id ${msg.id} after ${result.lastEventId}`);
      result.text = '';
      result.lastEventId = id;
      result.resets++;
      return undefined;
    case 'done':
      // Resuming from the done event's own id (what a browser holds after `done`) replays just `done`.
      if (id === result.lastEventId && result.text === '') result.lastEventId = id - 1;
      else if (id !== expected)
        throw new StreamProtocolError(`stream ${result.streamId}: done id ${msg.id} after token ${result.lastEventId}`);
      result.finishReason = String(d.finish_reason);
      result.usage = d.usage;
      return { kind: 'final' };
    case 'error':
      result.error = { message: typeof d.message === 'string' ? d.message : msg.data };
      return { kind: 'final' };
    case 'end':
      if (d.last_event_id !== result.lastEventId) {
        throw new StreamProtocolError(
          `stream ${result.streamId}: end says last_event_id ${String(d.last_event_id)}, received ${result.lastEventId}`,
        );
      }
      return { kind: 'end', retryAfterMs: Number(d.retry_after_ms ?? 0) };
    default:
      return undefined;
  }
}

function retryAfterMs(res: Response): number | undefined {
  const s = Number(res.headers.get('retry-after'));
  return Number.isFinite(s) && s >= 0 && res.headers.has('retry-after') ? s * 1000 : undefined;
}

async function httpError(res: Response): Promise<StreamHttpError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    return new StreamHttpError(res.status, body.error?.code, `HTTP ${res.status}: ${body.error?.message ?? text}`);
  } catch {
    return new StreamHttpError(res.status, undefined, `HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
