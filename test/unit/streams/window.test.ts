import { describe, expect, it } from 'vitest';
import { EntryWindow } from '../../../src/streams/window.js';

const text = (seq: number) => ({ kind: 'text' as const, text: `t${seq}`, seq });

describe('EntryWindow', () => {
  it('keeps every unpersisted entry and only `keep` persisted ones', () => {
    const w = new EntryWindow(10, 4);
    for (let seq = 11; seq <= 30; seq++) w.push(text(seq));
    w.persisted(15);
    expect(w.base).toBe(11); // too little to trim yet
    w.persisted(25);
    expect(w.base).toBe(22);
    expect(w.get(21)).toBeUndefined();
    expect(w.get(22)).toEqual(text(22));
    expect(w.get(30)).toEqual(text(30));
  });

  it('refuses a sequence number that is not the next one', () => {
    const w = new EntryWindow(0);
    w.push(text(1));
    expect(() => w.push(text(3))).toThrow(/expected seq 2/);
  });
});
