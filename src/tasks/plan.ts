import { createHash } from 'node:crypto';

/**
 * The shape of an agent task, as pure functions of its prompt and committed steps: which step
 * comes next and what it asks for. Keeping this free of I/O is what makes a resumed task do
 * exactly what an undisturbed one would have done.
 */
export type StepKind = 'plan' | 'tool:search' | 'llm' | 'answer';

export const DEFAULT_MAX_STEPS = 6;
export const MIN_STEPS = 2;
export const MAX_STEPS = 20;
/** Intermediate steps beyond plan and answer: at most this many, fewer when max_steps is small. */
const MAX_SUB_STEPS = 4;

/** Small completions keep each step well under a second on the dev upstream (50 tok/s). */
export const MAX_TOKENS: Readonly<Record<'plan' | 'llm' | 'answer', number>> = { plan: 32, llm: 32, answer: 48 };
export const SEARCH_K = 3;
/** Bounds what earlier steps contribute to a prompt, so step inputs stay small. */
const CONTEXT_STEPS = 3;
const CONTEXT_CHARS = 400;

/** plan → alternating tool:search / llm → answer; 2..4 intermediate steps chosen by the prompt. */
export function planSteps(prompt: string, maxSteps: number): StepKind[] {
  const wanted = 2 + (createHash('sha256').update(prompt).digest()[0]! % (MAX_SUB_STEPS - 1));
  const sub = Math.max(0, Math.min(maxSteps - 2, wanted));
  const kinds: StepKind[] = ['plan'];
  for (let j = 1; j <= sub; j++) kinds.push(j % 2 === 1 ? 'tool:search' : 'llm');
  kinds.push('answer');
  return kinds;
}

/** What a committed step holds: an LLM's text, or a search's hits (or why it was skipped). */
export type StepOutput =
  | { readonly text: string }
  | { readonly query: string; readonly hits: readonly SearchHit[] }
  | { readonly query: string; readonly skipped: string };

export interface SearchHit {
  readonly id: string;
  readonly score: number;
  readonly text: string;
}

export interface CommittedStep {
  readonly index: number;
  readonly kind: StepKind;
  readonly output: StepOutput;
}

export interface ChatMessage {
  readonly role: 'system' | 'user';
  readonly content: string;
}

/** What one step asks of the LLM or of the search tool, given the steps before it. */
export type StepRequest =
  | { readonly kind: 'plan' | 'llm' | 'answer'; readonly messages: ChatMessage[]; readonly maxTokens: number }
  | { readonly kind: 'tool:search'; readonly query: string; readonly k: number };

export function stepRequest(prompt: string, kind: StepKind, before: readonly CommittedStep[]): StepRequest {
  const task = `Task: ${prompt}`;
  switch (kind) {
    case 'plan':
      return {
        kind,
        maxTokens: MAX_TOKENS.plan,
        messages: [
          { role: 'system', content: 'You are a planning agent. Break the task into a few short steps.' },
          { role: 'user', content: `${task}\nWrite a short plan.` },
        ],
      };
    case 'tool:search': {
      // The first search looks for the prompt itself; later ones follow the latest note.
      const note = [...before].reverse().find((s) => s.kind === 'llm');
      const query = note ? `${prompt} ${textOf(note.output)}`.slice(0, CONTEXT_CHARS) : prompt.slice(0, CONTEXT_CHARS);
      return { kind, query, k: SEARCH_K };
    }
    case 'llm':
    case 'answer': {
      const notes = before
        .slice(-CONTEXT_STEPS)
        .map((s) => `[${s.index} ${s.kind}] ${summarise(s.output)}`)
        .join('\n');
      const ask = kind === 'llm' ? 'Write the next intermediate note.' : 'Write the final answer.';
      return {
        kind,
        maxTokens: MAX_TOKENS[kind],
        messages: [
          { role: 'system', content: 'You are a research agent working through a plan.' },
          { role: 'user', content: `${task}\nSo far:\n${notes}\n${ask}` },
        ],
      };
    }
  }
}

function textOf(output: StepOutput): string {
  return 'text' in output ? output.text : '';
}

function summarise(output: StepOutput): string {
  if ('text' in output) return output.text.slice(0, CONTEXT_CHARS);
  if ('skipped' in output) return `search skipped: ${output.skipped}`;
  return output.hits
    .map((h) => h.text)
    .join(' | ')
    .slice(0, CONTEXT_CHARS);
}
