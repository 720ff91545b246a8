import { randomUUID } from 'node:crypto';
import { DefaultChatTransport, readUIMessageStream, type UIMessage, type UIMessageChunk } from 'ai';

/**
 * A chat turn through lastcall's AI SDK front door with the `ai` package's own client pieces, as
 * an app would wire them: `DefaultChatTransport.sendMessages` (the POST), its
 * `reconnectToStream` (GET /v1/ai-sdk/chat/{id}/stream) whenever a response ends without
 * `finish` (a handoff, a cut connection), and `readUIMessageStream` to assemble the assistant
 * message. Since a reconnect replays the stream from its start, the message assembled from the
 * last connection is the whole answer. Used by the integration tests and the e2e traffic.
 */
export interface AiSdkChatOptions {
  readonly apiKey?: string;
  readonly signal?: AbortSignal;
  /** Requests in all (the POST, every reconnect, and the retries of refused ones); default 200. */
  readonly maxAttempts?: number;
  /** Wait before a reconnect or a retry; default 100 ms (or the answer's Retry-After). */
  readonly retryDelayMs?: number;
  /** Sent as Idempotency-Key on the POST, so a retried POST joins the stream the first one started; default a fresh UUID. */
  readonly idempotencyKey?: string;
  /** Every chunk, with the connection it came on (0: the POST's). */
  readonly onChunk?: (chunk: UIMessageChunk, connection: number) => void;
  /** A connection ended without `finish` (`how`: how it ended); a reconnect follows. */
  readonly onEnding?: (how: string) => void;
  /** The transport's `body` option (lastcall reads `max_tokens` from it). */
  readonly body?: Record<string, unknown>;
}

export interface AiSdkChatResult {
  /** The Lastcall-Stream-Id of the POST's answer. */
  readonly streamId: string | undefined;
  readonly message: UIMessage | undefined;
  /** The answer: the message's text after its last `data-lastcall-reset` part. */
  readonly text: string;
  readonly finishReason: string | undefined;
  /** Responses that ended without `finish` and were followed by a reconnect. */
  readonly reconnects: number;
  /** Requests refused (503/429) or not answered at all (refused connection), then retried. */
  readonly retried: number;
  readonly errorText: string | undefined;
  /** Connections that ended without `finish`, and how (a handoff ends cleanly, a cut with an error). */
  readonly endings: string[];
  /** How the turn ended: `finish`, or `no_active_stream` (a reconnect answered 204). */
  readonly ended: 'finish' | 'no_active_stream';
}

export function aiSdkTransport(
  baseUrl: string,
  opts: Pick<AiSdkChatOptions, 'apiKey' | 'body'> & { readonly fetch?: typeof fetch } = {},
): DefaultChatTransport<UIMessage> {
  return new DefaultChatTransport({
    api: `${baseUrl.replace(/\/+$/, '')}/v1/ai-sdk/chat`,
    ...(opts.apiKey ? { headers: { Authorization: `Bearer ${opts.apiKey}` } } : {}),
    ...(opts.body ? { body: opts.body } : {}),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
}

/** The answer a UI message holds: its text parts after the last `data-lastcall-reset` part. */
export function answerOf(message: UIMessage | undefined): string {
  let text = '';
  for (const p of message?.parts ?? []) {
    if (p.type === 'data-lastcall-reset') text = '';
    else if (p.type === 'text') text += p.text;
  }
  return text;
}

const delay = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason as Error)), { once: true });
  });

/** Sends one user message as a new chat (or the next turn of `chatId`) and follows the answer to its `finish`. */
export async function aiSdkChat(
  baseUrl: string,
  prompt: string,
  opts: AiSdkChatOptions & { readonly chatId?: string; readonly history?: UIMessage[] } = {},
): Promise<AiSdkChatResult> {
  const chatId = opts.chatId ?? randomUUID();
  const maxAttempts = opts.maxAttempts ?? 200;
  const retryDelayMs = opts.retryDelayMs ?? 100;
  let attempts = 0;
  let retried = 0;
  let streamId: string | undefined;
  // Retries what never reached the app (a refused connection, a draining replica's 503, a 429):
  // the POST carries an Idempotency-Key, so a retry that did reach it joins the same stream.
  const retrying: typeof fetch = async (input, init) => {
    for (;;) {
      if (++attempts > maxAttempts) throw new Error(`chat ${chatId}: gave up after ${maxAttempts} requests`);
      let res: Response;
      try {
        res = await fetch(input, init);
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        retried++;
        await delay(retryDelayMs, opts.signal);
        continue;
      }
      if (res.status === 503 || res.status === 429) {
        retried++;
        await res.body?.cancel();
        const after = Number(res.headers.get('retry-after'));
        await delay(Math.min(after > 0 ? after * 1000 : retryDelayMs, 5_000), opts.signal);
        continue;
      }
      const id = res.headers.get('lastcall-stream-id');
      if (init?.method === 'POST' && id) streamId = id;
      return res;
    }
  };
  const transport = aiSdkTransport(baseUrl, { ...opts, fetch: retrying });
  const user: UIMessage = { id: randomUUID(), role: 'user', parts: [{ type: 'text', text: prompt }] };
  const messages = [...(opts.history ?? []), user];
  const headers = { 'Idempotency-Key': opts.idempotencyKey ?? randomUUID() };

  let message: UIMessage | undefined;
  let finishReason: string | undefined;
  let errorText: string | undefined;
  const endings: string[] = [];
  const outcome = (ended: AiSdkChatResult['ended'], connection: number): AiSdkChatResult => ({
    streamId,
    message,
    text: answerOf(message),
    finishReason,
    reconnects: connection,
    retried,
    errorText,
    endings,
    ended,
  });
  for (let connection = 0; ; connection++) {
    const stream =
      connection === 0
        ? await transport.sendMessages({
            chatId,
            messages,
            trigger: 'submit-message',
            messageId: undefined,
            abortSignal: opts.signal,
            headers,
          })
        : await transport.reconnectToStream({ chatId, abortSignal: opts.signal });
    if (stream === null) {
      return outcome('no_active_stream', connection);
    }
    let finished = false;
    const tapped = stream.pipeThrough(
      new TransformStream<UIMessageChunk, UIMessageChunk>({
        transform(chunk, controller) {
          opts.onChunk?.(chunk, connection);
          if (chunk.type === 'finish') {
            finished = true;
            finishReason = chunk.finishReason;
          } else if (chunk.type === 'error') errorText = chunk.errorText;
          controller.enqueue(chunk);
        },
      }),
    );
    let cut: unknown;
    // A replay starts from the stream's first chunk: this connection's message is the whole answer so far.
    for await (const m of readUIMessageStream({ stream: tapped, onError: (err) => (cut ??= err) })) message = m;
    if (opts.signal?.aborted) throw opts.signal.reason as Error;
    if (finished) {
      return outcome('finish', connection);
    }
    endings.push(cut === undefined ? 'ended without finish' : `cut: ${(cut as Error).message}`);
    opts.onEnding?.(endings.at(-1)!);
    if (attempts >= maxAttempts) throw new Error(`chat ${chatId}: gave up after ${maxAttempts} requests`);
    await delay(retryDelayMs, opts.signal);
  }
}
