import type { Llm } from '../llm/llm.js';
import type { SearchHit, StepOutput, StepRequest } from './plan.js';

/**
 * Vector search over an owner's stored documents, provided by the vectors module when it is
 * wired in. Tasks must still complete without it, so its absence is recorded, not fatal; a
 * search that fails is a failed step (retried, bounded), never a result recorded as skipped.
 */
export type SearchFn = (owner: string, query: string, k: number) => Promise<readonly SearchHit[]>;

const HIT_TEXT_CHARS = 500;
const SKIPPED = 'vector search unavailable';

/** Runs one step's request; aborting `signal` aborts the upstream call at once. */
export async function runStep(
  req: StepRequest,
  deps: { llm: Llm; search: SearchFn | undefined; owner: string },
  signal: AbortSignal,
): Promise<StepOutput> {
  if (req.kind === 'tool:search') {
    if (!deps.search) return { query: req.query, skipped: SKIPPED };
    const hits = await deps.search(deps.owner, req.query, req.k);
    return { query: req.query, hits: hits.map((h) => ({ id: h.id, score: h.score, text: h.text.slice(0, HIT_TEXT_CHARS) })) };
  }
  const completion = await deps.llm.client.chat.completions.create(
    { model: deps.llm.model, messages: req.messages, max_tokens: req.maxTokens, stream: false },
    // Our own bounded retries (with the attempts column) replace the SDK's, so a failing step is
    // counted in the database where every replica sees it.
    { signal, maxRetries: 0 },
  );
  return { text: completion.choices[0]?.message?.content ?? '' };
}

/** What a step records as its input: enough to see what was asked, nothing that varies by run. */
export function stepInput(req: StepRequest): unknown {
  return req.kind === 'tool:search' ? { query: req.query, k: req.k } : { messages: req.messages, max_tokens: req.maxTokens };
}
