import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { streamChat, type StreamClientOptions } from '../../src/client/index.js';
import { plan } from '../../src/upstream/text.js';
import { aiSdkChat } from '../../testkit/ai-sdk-chat.js';
import { callApi, type ApiCallStats } from './api.js';

/** One client stream and how it ended. Text is compared at the end and not kept (bounded memory). */
export interface StreamRecord {
  readonly index: number;
  /** The user message, unique per stream: how an upstream's own record of it is found. */
  readonly content: string;
  readonly maxTokens: number;
  readonly startedAt: number;
  endedAt?: number;
  streamId?: string;
  /** Times the server sent a resumable `end` (a handoff) to this client. */
  readonly handoffsAt: number[];
  resumes: number;
  retried503: number;
  /** `reset` events: the answer started over (restart mode against a sampling upstream). */
  resets: number;
  /** SHA-256 of the final text, kept when the text is checked later against what the upstream says it generated. */
  textSha256?: string;
  /** Tokens received, and the reference length. */
  receivedChars: number;
  expectedChars: number;
  exact: boolean;
  /** The stream's `error` event, if it ended with one. */
  errorEvent?: string;
  /** Anything a client must never see: an HTTP error, a cut it could not resume, a wrong text. */
  failure?: string;
  /** The first `failAfterTokens` tokens matched, for the upstream fault case. */
  prefixTokens?: number;
}

export interface StreamLoadSpec {
  readonly tag: string;
  readonly concurrency: number;
  readonly minTokens: number;
  readonly maxTokens: number;
  readonly client?: Pick<StreamClientOptions, 'maxAttempts' | 'retryDelayMs' | 'signal'>;
  /**
   * `reference` (default): the text must be the dev upstream's deterministic answer. `upstream`:
   * a sampling upstream has no reference; the text's digest is kept for the caller to compare
   * with the upstream's own record of what it generated.
   */
  readonly verify?: 'reference' | 'upstream';
  /**
   * The client: lastcall's own (`POST /v1/chat/stream`, resumed with Last-Event-ID), or the AI
   * SDK's (the `ai` package's DefaultChatTransport on /v1/ai-sdk/chat: `sendMessages`, then
   * `reconnectToStream` whenever a response ends without `finish`). Default `native`.
   */
  readonly via?: 'native' | 'ai-sdk';
}

/** The reference: what one uninterrupted generation of this conversation produces. */
export function referenceTokens(content: string, maxTokens: number): readonly string[] {
  return plan([{ role: 'user', content }], maxTokens).tokens;
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const spread = (key: string, lo: number, hi: number) =>
  lo + (createHash('sha256').update(key).digest().readUInt32BE(0) % (hi - lo + 1));

/**
 * Workers that each start a new stream as soon as their previous one ends, until stopped, ramped
 * up over `rampMs`; what one stream is, is the subclass's.
 */
abstract class ContinuousLoad {
  readonly records: StreamRecord[] = [];
  private stopped = false;
  private workers: Promise<void>[] = [];
  protected next = 0;

  constructor(protected readonly spec: StreamLoadSpec) {}

  protected abstract one(index: number): Promise<void>;

  start(rampMs = 2_000): void {
    for (let w = 0; w < this.spec.concurrency; w++) {
      this.workers.push(
        (async () => {
          await new Promise((r) => setTimeout(r, (rampMs * w) / this.spec.concurrency));
          while (!this.stopped) await this.one(this.next++);
        })(),
      );
    }
  }

  /** No new streams; resolves once every open one has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.workers);
  }
}

/**
 * Keeps `concurrency` streams open through the Service until stopped: each worker starts a new
 * stream as soon as its previous one ends, with lengths spread between min and max tokens.
 */
export class StreamLoad extends ContinuousLoad {
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string | undefined,
    spec: StreamLoadSpec,
  ) {
    super(spec);
  }

  /** Starts exactly `count` streams, `concurrency` at a time, and resolves when all have ended. */
  async runBatch(count: number): Promise<void> {
    const workers = Array.from({ length: Math.min(count, this.spec.concurrency) }, async () => {
      for (let i = this.next++; i < count; i = this.next++) await this.one(i);
    });
    await Promise.all(workers);
  }

  get open(): number {
    return this.records.filter((r) => r.endedAt === undefined).length;
  }

  private oneAiSdk(rec: StreamRecord, content: string, expectedText: string): Promise<void> {
    const run = () =>
      aiSdkChat(this.baseUrl, content, {
        ...(this.apiKey ? { apiKey: this.apiKey } : {}),
        body: { max_tokens: rec.maxTokens },
        maxAttempts: this.spec.client?.maxAttempts ?? 400,
        retryDelayMs: this.spec.client?.retryDelayMs ?? 250,
        ...(this.spec.client?.signal ? { signal: this.spec.client.signal } : {}),
        onEnding: () => rec.handoffsAt.push(Date.now()),
      });
    return aiSdkTurn(rec, run, expectedText);
  }

  protected async one(index: number): Promise<void> {
    const content = `e2e ${this.spec.tag} ${this.spec.via === 'ai-sdk' ? 'chat' : 'stream'} ${index}`;
    const maxTokens = spread(content, this.spec.minTokens, this.spec.maxTokens);
    const expected = referenceTokens(content, maxTokens);
    const expectedText = expected.join('');
    const rec = newRecord(index, content, maxTokens, expectedText);
    this.records.push(rec);
    if (this.spec.via === 'ai-sdk') return this.oneAiSdk(rec, content, expectedText);
    try {
      const result = await streamChat(
        this.baseUrl,
        { messages: [{ role: 'user', content }], max_tokens: maxTokens },
        {
          ...(this.apiKey ? { apiKey: this.apiKey } : {}),
          maxAttempts: 200,
          retryDelayMs: 250,
          ...this.spec.client,
          onEvent: (e) => {
            if (e.event === 'end') rec.handoffsAt.push(Date.now());
          },
        },
      );
      rec.streamId = result.streamId;
      rec.resumes = result.resumes;
      rec.retried503 = result.retried503;
      rec.resets = result.resets;
      rec.receivedChars = result.text.length;
      if (this.spec.verify === 'upstream') {
        rec.textSha256 = sha256(result.text);
        if (result.error) rec.errorEvent = result.error.message;
        return;
      }
      rec.exact = result.text === expectedText;
      if (result.error) {
        rec.errorEvent = result.error.message;
        // How many whole reference tokens arrived before the error (-1: not a prefix at all).
        let prefix = '';
        let n = 0;
        while (prefix.length < result.text.length && n < expected.length) prefix += expected[n++];
        rec.prefixTokens = prefix === result.text ? n : -1;
      } else if (!rec.exact) {
        rec.failure = `text differs from the reference (${result.text.length} chars, expected ${expectedText.length}; resumes ${result.resumes})`;
      }
    } catch (err) {
      rec.failure = `${(err as Error).name}: ${(err as Error).message}`;
    } finally {
      rec.endedAt = Date.now();
    }
  }
}

const RESPONSE_TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed', 'response.cancelled']);

/**
 * Responses-API clients, written as the `openai` package's docs use it: `background: true,
 * stream: true`, and when the stream ends without a terminal event (its replica drained) or is
 * cut, `responses.retrieve(id, { stream: true, starting_after })` from the last sequence number
 * received. Every response must end completed with the reference text and gap-free sequence
 * numbers. Records are StreamRecords (`streamId` holds the response id, `handoffsAt` each time a
 * stream ended early).
 */
export class ResponsesLoad extends ContinuousLoad {
  private readonly client: OpenAI;
  private model: Promise<string> | undefined;

  constructor(baseUrl: string, apiKey: string | undefined, spec: StreamLoadSpec) {
    super(spec);
    // The SDK retries 429/503 (after retry-after-ms) and connections refused before an answer.
    this.client = new OpenAI({ baseURL: new URL('/v1', baseUrl).toString(), apiKey: apiKey ?? 'none', maxRetries: 30 });
  }

  /** The chat model the service lists first (LLM_MODEL). */
  private chatModel(): Promise<string> {
    this.model ??= this.client.models.list().then((page) => page.data[0]!.id);
    return this.model;
  }

  protected async one(index: number): Promise<void> {
    const content = `e2e ${this.spec.tag} response ${index}`;
    const maxTokens = spread(content, this.spec.minTokens, this.spec.maxTokens);
    const expectedText = referenceTokens(content, maxTokens).join('');
    const rec = newRecord(index, content, maxTokens, expectedText);
    this.records.push(rec);
    let text = '';
    let last = -1;
    let terminal: string | undefined;
    const take = async (events: AsyncIterable<ResponseStreamEvent>) => {
      try {
        for await (const e of events) {
          if (e.sequence_number !== last + 1) throw new Error(`sequence_number ${e.sequence_number} after ${last}`);
          last = e.sequence_number;
          if (e.type === 'response.created') rec.streamId = e.response.id;
          else if (e.type === 'response.output_text.delta') text += e.delta;
          else if (RESPONSE_TERMINAL.has(e.type)) terminal = e.type;
        }
      } catch (err) {
        if ((err as Error).message.startsWith('sequence_number')) throw err;
        // A cut connection: resumed like a drained one.
      }
    };
    try {
      const model = await this.chatModel();
      // One key per logical create: a retry after a cut before the answer joins the same response.
      const headers = { 'Idempotency-Key': `${this.spec.tag}-response-${index}` };
      await take(
        await this.client.responses.create(
          { model, input: content, max_output_tokens: maxTokens, background: true, stream: true },
          { headers, signal: this.spec.client?.signal },
        ),
      );
      if (!rec.streamId) throw new Error('the stream ended before response.created');
      while (!terminal) {
        rec.handoffsAt.push(Date.now());
        if (++rec.resumes > 200) throw new Error(`no terminal event after ${rec.resumes} resumes`);
        await take(
          await this.client.responses.retrieve(
            rec.streamId,
            { stream: true, starting_after: last },
            { signal: this.spec.client?.signal },
          ),
        );
      }
      rec.receivedChars = text.length;
      rec.exact = text === expectedText;
      const stored = await this.client.responses.retrieve(rec.streamId);
      if (terminal === 'response.failed' || terminal === 'response.cancelled')
        rec.errorEvent = `${terminal}: ${JSON.stringify(stored.error)}`;
      else if (!rec.exact) {
        rec.failure = `text differs from the reference (${text.length} chars, expected ${expectedText.length}; resumes ${rec.resumes})`;
      } else if (stored.output_text !== text) rec.failure = 'retrieve: output_text differs from the streamed deltas';
    } catch (err) {
      rec.failure = `${(err as Error).name}: ${(err as Error).message}`;
    } finally {
      rec.endedAt = Date.now();
    }
  }
}

/** One AI SDK chat turn, recorded like a stream: its handoffs are responses that ended without `finish`. */
async function aiSdkTurn(rec: StreamRecord, run: () => ReturnType<typeof aiSdkChat>, expectedText: string) {
  try {
    const result = await run();
    rec.streamId = result.streamId;
    rec.resumes = result.reconnects;
    rec.retried503 = result.retried;
    rec.receivedChars = result.text.length;
    rec.exact = result.ended === 'finish' && result.text === expectedText;
    if (result.errorText !== undefined) rec.errorEvent = result.errorText;
    else if (result.ended !== 'finish')
      rec.failure = `a reconnect found no active stream (204) after ${result.reconnects} reconnects`;
    else if (!rec.exact)
      rec.failure = `text differs from the reference (${result.text.length} chars, expected ${expectedText.length}; reconnects ${result.reconnects})`;
  } catch (err) {
    rec.failure = `${(err as Error).name}: ${(err as Error).message}`;
  } finally {
    rec.endedAt = Date.now();
  }
}

export interface TaskRecord {
  readonly id: string;
  readonly maxSteps: number;
  status: string;
  steps: number[];
  failure?: string;
}

interface TaskView {
  id: string;
  status: string;
  steps: { index: number }[];
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/** Agent tasks submitted through the Service and followed until they finish. */
export class TaskLoad {
  readonly records: TaskRecord[] = [];
  readonly stats: ApiCallStats = { calls: 0, retried503: 0 };
  readonly failures: string[] = [];

  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string | undefined,
    private readonly tag: string,
  ) {}

  async submit(count: number): Promise<void> {
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const maxSteps = spread(`${this.tag} task ${i}`, 3, 6);
        try {
          const { id } = await callApi<{ id: string }>(this.baseUrl, 'POST', '/v1/tasks', {
            body: { prompt: `e2e ${this.tag} task ${i}: plan, research and answer`, max_steps: maxSteps },
            ...(this.apiKey ? { apiKey: this.apiKey } : {}),
            stats: this.stats,
          });
          this.records.push({ id, maxSteps, status: 'queued', steps: [] });
        } catch (err) {
          this.failures.push(`task ${i} not accepted: ${(err as Error).message}`);
        }
      }),
    );
  }

  /** Polls every unfinished task once a second until all are finished or the time is up. */
  async awaitAll(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const pending = this.records.filter((t) => !TERMINAL.has(t.status) && !t.failure);
      if (pending.length === 0) return;
      if (Date.now() > until) {
        for (const t of pending) t.failure = `still ${t.status} after ${timeoutMs} ms`;
        return;
      }
      await Promise.all(
        pending.map(async (t) => {
          try {
            const view = await callApi<TaskView>(this.baseUrl, 'GET', `/v1/tasks/${t.id}`, {
              ...(this.apiKey ? { apiKey: this.apiKey } : {}),
              stats: this.stats,
            });
            t.status = view.status;
            t.steps = view.steps.map((s) => s.index);
          } catch (err) {
            t.failure = (err as Error).message;
          }
        }),
      );
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

const DOCUMENT_WORDS = (
  'apple river mountain guitar bread storm violin garden engine castle forest ocean planet silver ' +
  'winter summer doctor window candle bridge harbor meadow pepper rabbit saddle tunnel velvet wagon ' +
  'anchor basket copper falcon'
).split(' ');

/**
 * A text whose embedding is its own: ids are not in the model's vocabulary (unknown words are
 * dropped), so five known words drawn from the id's hash tell the documents apart (32^5 bags).
 */
function documentText(id: string): string {
  const h = createHash('sha256').update(id).digest();
  return `${Array.from({ length: 5 }, (_, i) => DOCUMENT_WORDS[h[i]! % DOCUMENT_WORDS.length]).join(' ')} (${id})`;
}

/** Embeddings, document upserts and searches through the Service, in a loop until stopped. */
export class EmbeddingLoad {
  readonly stats: ApiCallStats = { calls: 0, retried503: 0 };
  readonly failures: string[] = [];
  rounds = 0;
  private stopped = false;
  private workers: Promise<void>[] = [];

  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string | undefined,
    private readonly tag: string,
  ) {}

  start(concurrency = 2): void {
    for (let w = 0; w < concurrency; w++) this.workers.push(this.loop(w));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.workers);
  }

  private async loop(worker: number): Promise<void> {
    const auth = this.apiKey ? { apiKey: this.apiKey } : {};
    for (let n = 0; !this.stopped; n++) {
      const id = `e2e-${this.tag}-${worker}-${n}`;
      const text = documentText(id);
      try {
        const emb = await callApi<{ data: { embedding: number[] }[] }>(this.baseUrl, 'POST', '/v1/embeddings', {
          body: { input: [text, `query ${n}`] },
          ...auth,
          stats: this.stats,
        });
        if (emb.data.length !== 2 || emb.data.some((d) => d.embedding.length === 0)) throw new Error('embeddings: wrong shape');
        await callApi(this.baseUrl, 'POST', '/v1/documents', { body: { documents: [{ id, text }] }, ...auth, stats: this.stats });
        const found = await callApi<{ results: { id: string }[] }>(this.baseUrl, 'POST', '/v1/search', {
          body: { query: text, k: 3 },
          ...auth,
          stats: this.stats,
        });
        if (found.results[0]?.id !== id)
          throw new Error(`search for ${id} returned ${found.results.map((r) => r.id).join(', ') || 'nothing'}`);
        this.rounds++;
      } catch (err) {
        this.failures.push((err as Error).message);
      }
    }
  }
}

/** A stream's record as it starts: nothing received, nothing resumed yet. */
function newRecord(index: number, content: string, maxTokens: number, expectedText: string): StreamRecord {
  return {
    index,
    content,
    maxTokens,
    startedAt: Date.now(),
    handoffsAt: [],
    resumes: 0,
    retried503: 0,
    resets: 0,
    receivedChars: 0,
    expectedChars: expectedText.length,
    exact: false,
  };
}
