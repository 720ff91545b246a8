import { z } from 'zod';

/**
 * What every text that reaches the database must be, checked at the edge so a bad value is a 400
 * naming its field instead of a PostgreSQL error (and a 500) after the work is done: PostgreSQL
 * text cannot hold U+0000, and a lone UTF-16 surrogate has no UTF-8 encoding.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'must not contain U+0000 (NUL)';
  if (LONE_SURROGATE.test(s)) return 'must not contain a lone UTF-16 surrogate';
  return undefined;
}

/** A string the database can store; `nonBlank` also refuses one that is empty or only whitespace. */
export function text(opts: { max: number; nonBlank?: boolean }) {
  return z
    .string()
    .max(opts.max)
    .superRefine((s, ctx) => {
      const problem = textProblem(s);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
      else if (opts.nonBlank && s.trim().length === 0)
        ctx.addIssue({ code: 'custom', message: 'must not be empty or only whitespace' });
    });
}

/** Bounds on metadata: like OpenAI's metadata it is small and flat enough to store and return as is. */
export const METADATA_LIMITS = Object.freeze({ maxKeys: 64, maxKeyChars: 64, maxDepth: 5, maxBytes: 8192 });

/**
 * Checks a parsed JSON value without recursion (a body nested 5,000 deep must not overflow the
 * stack here or later in JSON.stringify): depth, keys per object, key length, every string.
 */
export function metadataProblem(value: unknown): string | undefined {
  return jsonProblem(value, METADATA_LIMITS);
}

export interface JsonLimits {
  readonly maxKeys: number;
  readonly maxKeyChars: number;
  readonly maxDepth: number;
  readonly maxBytes: number;
}

/** `metadataProblem` under other limits (e.g. a tool's JSON Schema, which nests deeper). */
export function jsonProblem(value: unknown, limits: JsonLimits): string | undefined {
  const stack: { v: unknown; depth: number; path: string }[] = [{ v: value, depth: 1, path: '' }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (typeof v === 'string') {
      const problem = textProblem(v);
      if (problem) return `${path || 'value'} ${problem}`;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth > limits.maxDepth) return `is nested deeper than ${limits.maxDepth} levels`;
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
    if (!Array.isArray(v) && entries.length > limits.maxKeys) return `${path || 'object'} has more than ${limits.maxKeys} keys`;
    for (const [k, x] of entries) {
      if (!Array.isArray(v)) {
        if (k.length > limits.maxKeyChars)
          return `key ${JSON.stringify(k.slice(0, 20))}… is longer than ${limits.maxKeyChars} characters`;
        const problem = textProblem(k);
        if (problem) return `key ${problem}`;
      }
      stack.push({ v: x, depth: depth + 1, path: path ? `${path}.${k}` : k });
    }
  }
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > limits.maxBytes) return `is ${bytes} bytes as JSON; at most ${limits.maxBytes}`;
  return undefined;
}

export const metadata = z.record(z.string(), z.unknown()).superRefine((m, ctx) => {
  const problem = metadataProblem(m);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
