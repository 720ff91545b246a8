import { describe, expect, it } from 'vitest';
import { isFinal, retryDelayMs, TASK_STATUSES } from '../../../src/tasks/state.js';

describe('task state rules', () => {
  it('treats completed, failed and cancelled as final and nothing else', () => {
    expect(TASK_STATUSES.filter(isFinal)).toEqual(['completed', 'failed', 'cancelled']);
  });

  it('backs off exponentially and stays bounded', () => {
    expect([1, 2, 3].map(retryDelayMs)).toEqual([250, 500, 1000]);
    expect(retryDelayMs(50)).toBe(4000);
  });
});
