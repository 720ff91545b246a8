import { createHash, randomBytes } from 'node:crypto';

/** Uniform draws in [0, 1). */
export type Rng = () => number;

/** Natural answer length, in tokens, before any max-tokens cap. */
export interface LengthRange {
  minTokens: number;
  maxTokens: number;
}

// sfc32 seeded from a SHA-256 of the key: the same key always draws the same words, so a request with
// temperature 0 and a seed can be replayed exactly, while every other request gets a fresh key.
export function seededRng(key: string): Rng {
  const h = createHash('sha256').update(key).digest();
  let a = h.readUInt32LE(0);
  let b = h.readUInt32LE(4);
  let c = h.readUInt32LE(8);
  let d = h.readUInt32LE(12);
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

export const freshRng = (): Rng => seededRng(randomBytes(16).toString('hex'));

const int = (rng: Rng, min: number, max: number) => min + Math.floor(rng() * (max - min + 1));
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;

const WORDS = (
  'the a an this that every each some many few most other another such same whole entire ' +
  'river mountain garden window lantern harbor meadow forest valley bridge tower village market ' +
  'signal engine pattern system network cluster replica stream token answer question reason idea ' +
  'morning evening winter summer season moment hour minute decade story letter chapter page ' +
  'quiet bright gentle careful steady rapid distant narrow golden silver hidden simple ancient ' +
  'useful clear honest patient curious modest sudden ordinary remarkable practical ' +
  'runs holds carries follows builds keeps finds shows brings moves turns opens closes reads ' +
  'writes listens watches waits returns grows changes leads covers explains measures ' +
  'slowly quickly often rarely almost nearly always perhaps finally together again still ' +
  'under over across through beyond between beside toward within around along behind ' +
  'and but so yet because while although when where before after until since ' +
  'light water stone paper glass wind rain snow fire salt bread music color shadow ' +
  'people teachers travelers builders readers neighbors engineers sailors farmers children ' +
  'city road path map plan list table door wall field shore island cloud star moon sun'
).split(' ');

/**
 * Draws a fresh answer as tokens (a word with its leading space, or a paragraph break). Its length is drawn
 * from the range and it ends on a full stop, as a model's natural answer does. `after` is text the answer
 * continues: it then picks up mid-sentence or starts the next sentence.
 */
export function sampleTokens(rng: Rng, range: LengthRange, after = ''): string[] {
  const target = int(rng, range.minTokens, Math.max(range.minTokens, range.maxTokens));
  const tail = after.trimEnd();
  const midSentence = tail.length > 0 && !/[.!?:]$/.test(tail);
  const tokens: string[] = [];
  let first = true;
  let noSpace = after.length === 0 || /\s$/.test(after);
  let sentences = 0;
  let paragraph = int(rng, 3, 6);
  while (tokens.length < target) {
    const continuing = first && midSentence;
    // The last sentence is cut to fit, so the answer lands within the range (at most one token over).
    const length = Math.max(2, Math.min(continuing ? int(rng, 3, 10) : int(rng, 6, 16), target - tokens.length));
    for (let i = 0; i < length; i++) {
      let word = pick(rng, WORDS);
      if (i === 0 && !continuing) word = word[0]!.toUpperCase() + word.slice(1);
      if (i === length - 1) word += rng() < 0.1 ? '?' : '.';
      else if (i > 1 && rng() < 0.08) word += ',';
      tokens.push((noSpace ? '' : ' ') + word);
      noSpace = false;
    }
    first = false;
    if (++sentences >= paragraph && tokens.length < target) {
      tokens.push('\n\n');
      noSpace = true;
      sentences = 0;
      paragraph = int(rng, 3, 6);
    }
  }
  return tokens;
}

/**
 * Cuts tokens at the earliest stop sequence; the stop text itself is not returned, as OpenAI documents
 * for `stop` (https://platform.openai.com/docs/api-reference/chat/create#chat-create-stop).
 */
export function cutAtStop(tokens: string[], stops: readonly string[]): { tokens: string[]; stopped: boolean } {
  const text = tokens.join('');
  let at = -1;
  for (const s of stops) {
    const i = s.length > 0 ? text.indexOf(s) : -1;
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  if (at < 0) return { tokens, stopped: false };
  const out: string[] = [];
  let used = 0;
  for (const t of tokens) {
    if (used + t.length <= at) out.push(t);
    else {
      if (at > used) out.push(t.slice(0, at - used));
      break;
    }
    used += t.length;
  }
  return { tokens: out, stopped: true };
}

/** Arguments for a function tool call, drawn from its JSON Schema `parameters` (a plausible subset). */
export function sampleArguments(rng: Rng, schema: unknown): Record<string, unknown> {
  const value = sampleValue(rng, schema, 0);
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function sampleValue(rng: Rng, schema: unknown, depth: number): unknown {
  const s = (schema ?? {}) as {
    type?: unknown;
    enum?: unknown[];
    properties?: Record<string, unknown>;
    required?: unknown[];
    items?: unknown;
  };
  if (Array.isArray(s.enum) && s.enum.length > 0) return pick(rng, s.enum);
  const type: unknown = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'string':
      return Array.from({ length: int(rng, 1, 3) }, () => pick(rng, WORDS)).join(' ');
    case 'integer':
      return int(rng, 0, 100);
    case 'number':
      return Math.round(rng() * 10000) / 100;
    case 'boolean':
      return rng() < 0.5;
    case 'array':
      return depth > 3 ? [] : Array.from({ length: int(rng, 1, 2) }, () => sampleValue(rng, s.items, depth + 1));
    default: {
      if (depth > 3 || !s.properties) return {};
      const required = new Set(Array.isArray(s.required) ? s.required : []);
      const out: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(s.properties)) {
        if (required.has(key) || rng() < 0.5) out[key] = sampleValue(rng, sub, depth + 1);
      }
      return out;
    }
  }
}

/** Splits text into irregular pieces, the way streamed tool-call arguments arrive. */
export function splitPieces(rng: Rng, text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length;) {
    const n = int(rng, 3, 10);
    out.push(text.slice(i, i + n));
    i += n;
  }
  return out;
}

/** A rough prompt-size estimate (about four characters a token), enough for usage figures. */
export const estimateTokens = (text: string) => Math.ceil(text.length / 4);
