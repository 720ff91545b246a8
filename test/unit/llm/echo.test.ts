import { describe, expect, it } from 'vitest';
import { PrefixEcho, withoutEcho } from '../../../src/llm/echo.js';
import type { UpstreamEvent } from '../../../src/llm/upstream.js';
import { collect, finish, source, texts } from './events.js';

/** Feeds deltas one by one; returns what was passed on after each, and what the flush gave. */
function feed(prefix: string, deltas: string[]) {
  const echo = new PrefixEcho(prefix);
  const out = deltas.map((d) => echo.push(d));
  return { out, flushed: echo.flush(), echoed: echo.echoed };
}

describe('PrefixEcho (prefix mode: strip an echoed prefix)', () => {
  it('drops the prefix when the provider returns it first in one delta (Mistral)', () => {
    expect(feed('The quiet', ['The quiet', ' river', '.'])).toEqual({ out: ['', ' river', '.'], flushed: '', echoed: true });
  });

  it('drops a prefix echoed across several deltas, splitting the one that passes it', () => {
    expect(feed('The quiet', ['The', ' qu', 'iet river', '.'])).toEqual({
      out: ['', '', ' river', '.'],
      flushed: '',
      echoed: true,
    });
  });

  it('passes a continuation without echo through at the first character that differs (DeepSeek)', () => {
    expect(feed('The quiet', [' river', ' runs'])).toEqual({ out: [' river', ' runs'], flushed: '', echoed: false });
  });

  it('holds back at most the prefix length while it could still be the echo', () => {
    const echo = new PrefixEcho('abc');
    expect(echo.push('a')).toBe('');
    expect(echo.push('b')).toBe('');
    expect(echo.push('x')).toBe('abx');
    expect(echo.echoed).toBe(false);
  });

  it('a text shorter than the prefix that ends the stream is given back whole', () => {
    expect(feed('The quiet', ['The', ' q'])).toEqual({ out: ['', ''], flushed: 'The q', echoed: false });
  });

  it('an empty prefix passes everything through', () => {
    expect(feed('', ['a', 'b'])).toEqual({ out: ['a', 'b'], flushed: '', echoed: false });
  });
});

describe('withoutEcho', () => {
  it('gives the continuation only, whichever way the provider answers', async () => {
    const echoed = await collect(withoutEcho('Once', source([...texts('Once', ' upon', ' a time'), finish])));
    const plain = await collect(withoutEcho('Once', source([...texts(' upon', ' a time'), finish])));
    expect(echoed).toEqual([...texts(' upon', ' a time'), finish]);
    expect(plain).toEqual(echoed);
  });

  it('gives held text back before a tool call or the finish', async () => {
    const tool: UpstreamEvent = { type: 'tool', index: 0, id: 'c', name: 'f', arguments: '' };
    expect(await collect(withoutEcho('Once upon', source([...texts('On'), tool, finish])))).toEqual([
      ...texts('On'),
      tool,
      finish,
    ]);
    expect(await collect(withoutEcho('Once upon', source([...texts('On'), finish])))).toEqual([...texts('On'), finish]);
  });
});
