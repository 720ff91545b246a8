import { describe, expect, it } from 'vitest';
import { retryHeaders, tooManyRequests, unavailable } from '../../../src/errors/errors.js';

describe('retry headers', () => {
  it('429 and 503 tell the openai SDKs when to retry (retry-after-ms, x-should-retry) beside Retry-After', () => {
    expect(tooManyRequests('slow down', 2).headers).toEqual({
      'Retry-After': '2',
      'retry-after-ms': '2000',
      'x-should-retry': 'true',
    });
    expect(unavailable('draining', 'later', 1).headers).toEqual({
      'Retry-After': '1',
      'retry-after-ms': '1000',
      'x-should-retry': 'true',
    });
    // Retry-After is whole seconds; the SDKs read the milliseconds first.
    expect(retryHeaders(0.25)).toEqual({ 'Retry-After': '1', 'retry-after-ms': '250', 'x-should-retry': 'true' });
  });
});
