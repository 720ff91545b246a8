import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/errors/errors.js';
import { resumeCursor } from '../../../src/http/sse.js';

const req = (header: string | undefined, after?: string) =>
  ({
    get: (name: string) => (name === 'last-event-id' ? header : undefined),
    query: after === undefined ? {} : { after },
  }) as unknown as Request;
const steps = { min: -1, code: 'invalid_after', meaning: 'a step index' };

describe('resumeCursor', () => {
  it('reads Last-Event-ID over ?after, trimmed, down to its minimum', () => {
    expect(resumeCursor(req(undefined), steps)).toBeUndefined();
    expect(resumeCursor(req(''), steps)).toBeUndefined();
    expect(resumeCursor(req(undefined, '-1'), steps)).toBe(-1);
    expect(resumeCursor(req(' 4 ', '9'), steps)).toBe(4);
  });

  it('answers 400 with the caller’s code, naming the field the bad value came from', () => {
    const thrown = (r: Request) => {
      try {
        resumeCursor(r, steps);
      } catch (err) {
        return err as ApiError;
      }
      return expect.fail('expected a 400');
    };
    const fromHeader = thrown(req('-2'));
    expect(fromHeader).toBeInstanceOf(ApiError);
    expect(fromHeader).toMatchObject({
      status: 400,
      code: 'invalid_after',
      message: 'Last-Event-ID must be a step index (an integer ≥ -1)',
    });
    expect(thrown(req(undefined, 'abc')).message).toBe('after must be a step index (an integer ≥ -1)');
    expect(thrown(req('1.5')).status).toBe(400);
  });
});
