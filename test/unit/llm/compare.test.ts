import { describe, expect, it } from 'vitest';
import { continueByComparing, type Comparison } from '../../../src/llm/compare.js';
import type { LogEntry, UpstreamEvent } from '../../../src/llm/upstream.js';
import { answerAfter, collect, finish, log, source, texts } from './events.js';

const compare = (entries: LogEntry[], events: UpstreamEvent[], comparison?: Comparison) =>
  collect(continueByComparing(entries, source(events), comparison));

describe('continueByComparing (restart behaviour)', () => {
  it('emits nothing while the regenerated text repeats the log, then only what lies beyond it', async () => {
    const out = await compare(log('The', ' quiet', ' river'), [...texts('The', ' quiet', ' river', ' runs', '.'), finish]);
    expect(out).toEqual([
      { type: 'regenerated', tokens: 1 },
      { type: 'regenerated', tokens: 1 },
      { type: 'regenerated', tokens: 1 },
      ...texts(' runs', '.'),
      finish,
    ]);
  });

  it('compares text, not how it was split: a delta that straddles the end is cut there', async () => {
    const out = await compare(log('The q', 'uiet ri'), [...texts('The', ' quiet', ' river', ' runs'), finish]);
    expect(out.filter((e) => e.type === 'regenerated')).toHaveLength(2);
    expect(out.filter((e) => e.type === 'text')).toEqual(texts('ver', ' runs'));
    expect(answerAfter('The quiet ri', out)).toBe('The quiet river runs');
  });

  it('at the first difference: one reset, the whole new answer so far in one text event, then the rest', async () => {
    const out = await compare(log('The', ' quiet', ' river'), [...texts('The', ' quick', ' fox', ' jumps'), finish]);
    expect(out).toEqual([
      { type: 'regenerated', tokens: 1 },
      { type: 'reset' },
      { type: 'text', text: 'The quick' },
      ...texts(' fox', ' jumps'),
      finish,
    ]);
  });

  it('a difference at the very first token resets at once', async () => {
    const out = await compare(log('Hello'), [...texts('Goodbye', ' now'), finish]);
    expect(out).toEqual([{ type: 'reset' }, { type: 'text', text: 'Goodbye' }, ...texts(' now'), finish]);
  });

  it('a regenerated answer that ends inside the persisted one resets at the finish', async () => {
    const out = await compare(log('The', ' quiet', ' river'), [...texts('The', ' quiet'), finish]);
    expect(out).toEqual([
      { type: 'regenerated', tokens: 1 },
      { type: 'regenerated', tokens: 1 },
      { type: 'reset' },
      { type: 'text', text: 'The quiet' },
      finish,
    ]);
  });

  it('an exact regeneration of the whole log appends nothing', async () => {
    const out = await compare(log('The', ' end.'), [...texts('The', ' end.'), finish]);
    expect(out.filter((e) => e.type !== 'regenerated')).toEqual([finish]);
  });

  it('an empty log (or one that ends in a reset) passes everything through', async () => {
    const events = [{ type: 'cursor', cursor: { responseId: 'resp_1', sequence: 0 } } as const, ...texts('A', 'B'), finish];
    expect(await compare([], events)).toEqual(events);
    expect(await compare([...log('old'), { kind: 'reset' }], events)).toEqual(events);
  });

  it('compares the answer after the last reset of the log', async () => {
    const out = await compare(
      [...log('first', ' try'), { kind: 'reset' }, ...log('Second')],
      [...texts('Second', ' try'), finish],
    );
    expect(out.filter((e) => e.type === 'text')).toEqual(texts(' try'));
  });

  it('stops quietly (no reset) when the source ends without a finish: the generation was stopped', async () => {
    expect(await compare(log('The', ' quiet'), texts('The'))).toEqual([{ type: 'regenerated', tokens: 1 }]);
  });

  describe('tool calls', () => {
    const call: LogEntry[] = [
      { kind: 'tool', index: 0, id: 'call_old', name: 'lookup', arguments: '' },
      { kind: 'tool', index: 0, arguments: '{"q":' },
      { kind: 'tool', index: 0, arguments: '"riv' },
    ];
    const regenerated = (name: string, ...pieces: string[]): UpstreamEvent[] => [
      { type: 'tool', index: 0, id: 'call_new', name, arguments: '' },
      ...pieces.map((a): UpstreamEvent => ({ type: 'tool', index: 0, arguments: a })),
    ];

    it('the same call (any id) continues with the arguments beyond the log', async () => {
      const out = await compare(call, [...regenerated('lookup', '{"q":"', 'river"}'), { ...finish, finishReason: 'tool_calls' }]);
      expect(out.filter((e) => e.type === 'tool')).toEqual([{ type: 'tool', index: 0, arguments: 'er"}' }]);
      expect(out.some((e) => e.type === 'reset')).toBe(false);
    });

    it('another function name resets, then gives the regenerated call whole', async () => {
      const out = await compare(call, [...regenerated('search', '{"q"'), ...regenerated('search', ':1}').slice(1), finish]);
      expect(out).toEqual([
        { type: 'reset' },
        { type: 'tool', index: 0, id: 'call_new', name: 'search', arguments: '' },
        { type: 'tool', index: 0, arguments: '{"q"' },
        { type: 'tool', index: 0, arguments: ':1}' },
        finish,
      ]);
    });

    it('different arguments reset with the call so far in one event', async () => {
      const out = await compare(call, [...regenerated('lookup', '{"q":', '"sea', '"}'), finish]);
      expect(out.filter((e) => e.type !== 'regenerated')).toEqual([
        { type: 'reset' },
        { type: 'tool', index: 0, id: 'call_new', name: 'lookup', arguments: '{"q":"sea' },
        { type: 'tool', index: 0, arguments: '"}' },
        finish,
      ]);
    });

    it('text where the log has a call (or the reverse) is a difference', async () => {
      const out = await compare([...log('Let me look.'), ...call], [...texts('Let me look.', ' Sure'), finish]);
      expect(out.filter((e) => e.type !== 'regenerated')).toEqual([
        { type: 'reset' },
        { type: 'text', text: 'Let me look. Sure' },
        finish,
      ]);
      const back = await compare(log('Let me'), [...texts('Let me'), ...regenerated('lookup', '{}'), finish]);
      expect(back.filter((e) => e.type !== 'regenerated')).toEqual([
        { type: 'tool', index: 0, id: 'call_new', name: 'lookup', arguments: '' },
        { type: 'tool', index: 0, arguments: '{}' },
        finish,
      ]);
    });
  });

  describe('cursors (a regenerated upstream Response)', () => {
    const at = (sequence: number) => ({ responseId: 'resp_new', sequence });
    const created: UpstreamEvent = { type: 'cursor', cursor: at(0) };

    it('holds the new cursor back until the answer passed the log, then gives it after the new text', async () => {
      const comparison: Comparison = { resolved: false };
      const out = await compare(
        log('The', ' quiet'),
        [
          created,
          { type: 'text', text: 'The', cursor: at(4) },
          { type: 'text', text: ' quiet', cursor: at(5) },
          { type: 'text', text: ' river', cursor: at(6) },
          { type: 'text', text: '.', cursor: at(7) },
          finish,
        ],
        comparison,
      );
      expect(out).toEqual([
        { type: 'regenerated', tokens: 1 },
        { type: 'regenerated', tokens: 1 },
        { type: 'text', text: ' river', cursor: at(6) },
        { type: 'cursor', cursor: at(6) },
        { type: 'text', text: '.', cursor: at(7) },
        finish,
      ]);
      expect(comparison.resolved).toBe(true);
    });

    it('on a difference the reset and the new answer carry the cursor of the event that differed', async () => {
      const out = await compare(log('The', ' quiet'), [
        created,
        { type: 'text', text: 'The', cursor: at(4) },
        { type: 'text', text: ' loud', cursor: at(5) },
      ]);
      expect(out).toEqual([
        { type: 'regenerated', tokens: 1 },
        { type: 'reset', cursor: at(5) },
        { type: 'text', text: 'The loud', cursor: at(5) },
        { type: 'cursor', cursor: at(5) },
      ]);
    });

    it('stays unresolved while the regenerated answer only repeats the log', async () => {
      const comparison: Comparison = { resolved: false };
      const out = await compare(log('The', ' quiet'), [created, { type: 'text', text: 'The', cursor: at(4) }], comparison);
      expect(out).toEqual([{ type: 'regenerated', tokens: 1 }]);
      expect(comparison.resolved).toBe(false);
    });
  });
});
