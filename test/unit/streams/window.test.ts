import { describe, expect, it } from 'vitest';
import { TokenWindow } from '../../../src/streams/window.js';

describe('TokenWindow', () => {
  it('keeps every unpersisted token and only `keep` persisted ones', () => {
    const w = new TokenWindow(10, 4);
    for (let seq = 11; seq <= 30; seq++) w.push(seq, `t${seq}`);
    w.persisted(15);
    expect(w.base).toBe(11); // too little to trim yet
    w.persisted(25);
    expect(w.base).toBe(22);
    expect(w.get(21)).toBeUndefined();
    expect(w.get(22)).toBe('t22');
    expect(w.get(30)).toBe('t30');
  });

  it('refuses a sequence number that is not the next one', () => {
    const w = new TokenWindow(0);
    w.push(1, 'a');
    expect(() => w.push(3, 'c')).toThrow(/expected seq 2/);
  });
});
