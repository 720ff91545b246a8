/** Runs the input catalogue against a replica and gives each case its verdict. */
import type { Case } from './catalogue.js';
import { sleep } from './harness.js';
import { exchange, type Keys, type Outcome, type OutcomeClass } from './raw.js';

export type Flag = '5xx' | 'hang' | 'reset' | 'non-json-4xx' | 'accepted' | 'unexpected-status' | 'finding';

export interface CaseResult {
  readonly name: string;
  readonly category: string;
  readonly route: string;
  readonly class: OutcomeClass;
  readonly status?: number;
  readonly code?: string;
  readonly message?: string;
  readonly contentType?: string;
  readonly jsonError: boolean;
  readonly ms: number;
  readonly flags: Flag[];
  readonly finding?: string;
  readonly expected: string;
  readonly bodySnippet?: string;
  readonly retried?: boolean;
}

export const HANG_MS = 10_000;

function verdict(c: Case, o: Outcome): { flags: Flag[]; finding?: string } {
  const flags: Flag[] = [];
  if (o.class === '5xx') flags.push('5xx');
  if (o.class === 'hang') flags.push('hang');
  if (o.class === 'reset') flags.push('reset');
  if (o.class === '4xx' && !o.jsonError) flags.push('non-json-4xx');
  if (c.expect === 'error' && (o.class === '2xx' || o.class === '3xx')) flags.push('accepted');
  if (Array.isArray(c.expect) && o.status !== undefined && !c.expect.includes(o.status) && o.class !== '5xx')
    flags.push('unexpected-status');
  const finding = c.check?.(o);
  if (finding) flags.push('finding');
  return { flags, finding };
}

function toResult(c: Case, o: Outcome, retried = false): CaseResult {
  const { flags, finding } = verdict(c, o);
  return {
    name: c.name,
    category: c.category,
    route: c.route,
    class: o.class,
    status: o.status,
    code: o.code,
    message: o.message,
    contentType: o.contentType,
    jsonError: o.jsonError,
    ms: Math.round(o.ms),
    flags,
    finding,
    expected: c.expect === 'error' ? 'JSON 4xx' : c.expect === 'any' ? 'no 5xx/hang' : c.expect.join('|'),
    bodySnippet: flags.length && !o.jsonError ? o.body.slice(0, 160) : undefined,
    retried,
  };
}

/**
 * Runs cases `concurrency` at a time. A 429 says the case met a capacity limit rather than its
 * validation, so those cases run again one by one at the end.
 */
export async function runCatalogue(
  port: number,
  keys: Keys,
  cases: readonly Case[],
  opts: { concurrency: number; progress: (s: string) => void },
): Promise<CaseResult[]> {
  const results = new Array<CaseResult | undefined>(cases.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (let i = next++; i < cases.length; i = next++) {
      const c = cases[i]!;
      const o = await exchange(port, c.req, keys, { timeoutMs: c.timeoutMs ?? HANG_MS });
      results[i] = toResult(c, o);
      if (++done % 50 === 0) opts.progress(`catalogue: ${done}/${cases.length} cases`);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const retry = results.flatMap((r, i) => (r?.status === 429 ? [i] : []));
  if (retry.length) {
    opts.progress(`catalogue: ${retry.length} cases met a capacity limit (429); running them again one at a time`);
    await sleep(1_500);
    for (const i of retry) {
      const c = cases[i]!;
      results[i] = toResult(c, await exchange(port, c.req, keys, { timeoutMs: c.timeoutMs ?? HANG_MS }), true);
      await sleep(100);
    }
  }
  return results as CaseResult[];
}
