import { describe, expect, it } from 'vitest';
import { issueTicket, TICKET_TTL_SECONDS, verifyTicket } from '../../../src/http/tickets.js';

const alice = { key: 'a'.repeat(32), owner: 'name:alice' };
const bob = { key: 'b'.repeat(32), owner: 'name:bob' };

describe('stream tickets', () => {
  it('open the stream they were issued for, for the key that issued them, until they expire', () => {
    const t = issueTicket(alice, 'stream-1', 1_000);
    expect(verifyTicket([bob, alice], 'stream-1', t, 1_000)).toBe(alice);
    expect(verifyTicket([bob, alice], 'stream-1', t, 1_000 + TICKET_TTL_SECONDS)).toBe(alice);
    expect(verifyTicket([bob, alice], 'stream-1', t, 1_001 + TICKET_TTL_SECONDS)).toBeUndefined();
    expect(verifyTicket([bob, alice], 'stream-2', t, 1_000)).toBeUndefined();
    // Rotating the key (same name, new key) ends every ticket it issued.
    expect(verifyTicket([bob, { ...alice, key: 'c'.repeat(32) }], 'stream-1', t, 1_000)).toBeUndefined();
  });

  it('refuse anything that is not a well-formed ticket, and a changed expiry', () => {
    const t = issueTicket(alice, 's', 1_000);
    const [expires, mac] = t.split('.');
    for (const bad of ['', 'x', `${expires}.`, `.${mac}`, `${Number(expires) + 10}.${mac}`, `${expires}.${mac}x`]) {
      expect(verifyTicket([alice], 's', bad, 1_000)).toBeUndefined();
    }
  });
});
