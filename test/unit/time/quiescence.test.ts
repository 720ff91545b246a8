import { describe, expect, it } from 'vitest';
import { Quiescence } from '../../../src/time/quiescence.js';

describe('Quiescence', () => {
  it('resolves at once when already quiet', async () => {
    await new Quiescence(() => true).wait(new AbortController().signal);
  });

  it('resolves when the owner reports the change that makes it quiet', async () => {
    let busy = 2;
    const q = new Quiescence(() => busy === 0);
    let done = false;
    const waiting = q.wait(new AbortController().signal).then(() => (done = true));
    busy = 1;
    q.changed();
    await Promise.resolve();
    expect(done).toBe(false);
    busy = 0;
    q.changed();
    await waiting;
    expect(done).toBe(true);
  });

  it('gives up when the signal aborts, still busy', async () => {
    const q = new Quiescence(() => false);
    const ctl = new AbortController();
    const waiting = q.wait(ctl.signal);
    ctl.abort();
    await waiting;
  });
});
