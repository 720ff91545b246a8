import { describe, expect, it } from 'vitest';
import { MAX_TOKENS, planSteps, stepRequest, type CommittedStep } from '../../../src/tasks/plan.js';

describe('planSteps', () => {
  it('starts with plan, ends with answer, and alternates search and llm in between', () => {
    for (let i = 0; i < 50; i++) {
      const kinds = planSteps(`prompt ${i}`, 20);
      expect(kinds[0]).toBe('plan');
      expect(kinds.at(-1)).toBe('answer');
      const middle = kinds.slice(1, -1);
      expect(middle.length).toBeGreaterThanOrEqual(2);
      expect(middle.length).toBeLessThanOrEqual(4);
      middle.forEach((k, j) => expect(k).toBe(j % 2 === 0 ? 'tool:search' : 'llm'));
    }
  });

  it('is a pure function of the prompt', () => {
    expect(planSteps('same prompt', 6)).toEqual(planSteps('same prompt', 6));
    const lengths = new Set(Array.from({ length: 50 }, (_, i) => planSteps(`p${i}`, 20).length));
    expect(lengths.size).toBeGreaterThan(1); // the prompt really chooses the number of steps
  });

  it('never exceeds max_steps', () => {
    for (let max = 2; max <= 20; max++) {
      for (let i = 0; i < 20; i++) expect(planSteps(`q${i}`, max).length).toBeLessThanOrEqual(max);
    }
    expect(planSteps('anything', 2)).toEqual(['plan', 'answer']);
  });
});

describe('stepRequest', () => {
  const plan: CommittedStep = { index: 0, kind: 'plan', output: { text: 'first look things up' } };
  const search: CommittedStep = { index: 1, kind: 'tool:search', output: { query: 'q', skipped: 'vector search unavailable' } };
  const note: CommittedStep = { index: 2, kind: 'llm', output: { text: 'a note' } };

  it('asks for a short plan first', () => {
    const r = stepRequest('why leases', 'plan', []);
    expect(r).toMatchObject({ kind: 'plan', maxTokens: MAX_TOKENS.plan });
    expect(r.kind !== 'tool:search' && r.messages.at(-1)!.content).toContain('why leases');
  });

  it('searches for the prompt first, then follows the latest note', () => {
    expect(stepRequest('why leases', 'tool:search', [plan])).toEqual({ kind: 'tool:search', query: 'why leases', k: 3 });
    expect(stepRequest('why leases', 'tool:search', [plan, search, note])).toMatchObject({ query: 'why leases a note' });
  });

  it('feeds earlier outputs to later LLM steps, skipped searches included', () => {
    const r = stepRequest('why leases', 'answer', [plan, search, note]);
    if (r.kind === 'tool:search') throw new Error('expected an LLM step');
    const user = r.messages.at(-1)!.content;
    expect(user).toContain('first look things up');
    expect(user).toContain('search skipped: vector search unavailable');
    expect(user).toContain('a note');
    expect(user).toContain('final answer');
    expect(r.maxTokens).toBe(MAX_TOKENS.answer);
  });

  it('keeps the context bounded however long earlier outputs are', () => {
    const long: CommittedStep = { index: 1, kind: 'llm', output: { text: 'x'.repeat(100_000) } };
    const r = stepRequest('p', 'llm', [plan, long, long, long, long]);
    if (r.kind === 'tool:search') throw new Error('expected an LLM step');
    expect(r.messages.at(-1)!.content.length).toBeLessThan(2_000);
  });
});
