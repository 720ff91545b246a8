import { createHash } from 'node:crypto';

/**
 * The built-in upstream's text: a pure function of the conversation. The same messages always
 * give the same tokens, and a conversation ending in an assistant message that is a prefix of
 * that text continues exactly after it — what lastcall relies on to resume a generation on
 * another replica.
 */
export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

const WORDS = (
  'the a replica stream token drain budget kubelet pod lease handoff resume signal grace ' +
  'request socket probe ready alive phase queue task step checkpoint vector model memory ' +
  'cluster node service endpoint rollout restart deploy shard index query embed search ' +
  'answer plan tool result agent context window latency throughput backoff retry deadline ' +
  'careful quiet steady quick bright calm clear exact durable honest simple gentle prompt ' +
  'is was will can keeps moves holds sends takes writes reads waits ends starts returns ' +
  'and or but so then while after before because until when where every each no more'
).split(' ');

/** Length of the natural completion before any max_tokens cap: 160 to 1,183 tokens. */
const naturalLength = (seed: Buffer) => 160 + (seed.readUInt32BE(4) % 1024);

export function promptSeed(messages: readonly ChatMessage[]): Buffer {
  const h = createHash('sha256');
  for (const m of messages) h.update(`${m.role}\u0000${m.content}\u0001`);
  return h.digest();
}

/** Deterministic PRNG (xorshift32) so the token sequence never depends on the platform. */
function* words(seed: Buffer): Generator<string> {
  let x = seed.readUInt32BE(0) || 0x9e3779b9;
  let i = 0;
  for (;;) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const word = WORDS[x % WORDS.length] ?? 'the';
    // Sentences of 6–13 words keep the text readable on the demo page.
    const sentenceEnd = (x >>> 8) % 8 === 0;
    yield (i === 0 ? word[0]!.toUpperCase() + word.slice(1) : ` ${word}`) + (sentenceEnd ? '.' : '');
    i++;
  }
}

export function completionTokens(messages: readonly ChatMessage[]): string[] {
  const seed = promptSeed(messages);
  const n = naturalLength(seed);
  const out: string[] = [];
  for (const w of words(seed)) {
    out.push(w);
    if (out.length >= n) break;
  }
  return out;
}

export interface Plan {
  readonly tokens: readonly string[];
  readonly promptTokens: number;
}

/**
 * What to emit for a request: the natural completion of the conversation, or when the last
 * message is an assistant prefix of it, the rest after that prefix (split on the same token
 * boundaries where the prefix ends on one). `maxTokens` caps what is emitted.
 */
export function plan(messages: readonly ChatMessage[], maxTokens?: number): Plan {
  const last = messages.at(-1);
  const promptTokens = messages.reduce((n, m) => n + Math.max(1, m.content.split(/\s+/).length), 0);
  let tokens: string[];
  if (last?.role === 'assistant' && messages.length > 1) {
    const full = completionTokens(messages.slice(0, -1));
    tokens = continuation(full, last.content) ?? completionTokens(messages);
  } else {
    tokens = completionTokens(messages);
  }
  if (maxTokens !== undefined) tokens = tokens.slice(0, maxTokens);
  return { tokens, promptTokens };
}

function continuation(full: readonly string[], prefix: string): string[] | undefined {
  let used = 0;
  for (let i = 0; i <= full.length; i++) {
    if (used === prefix.length) return full.slice(i);
    if (i === full.length) return undefined;
    const tok = full[i]!;
    if (used + tok.length > prefix.length) {
      // The prefix ends inside this token: emit the token's remainder, then the rest.
      const head = prefix.slice(used);
      return tok.startsWith(head) ? [tok.slice(head.length), ...full.slice(i + 1)] : undefined;
    }
    if (prefix.slice(used, used + tok.length) !== tok) return undefined;
    used += tok.length;
  }
  return undefined;
}
