import { describe, expect, it } from 'vitest';
import { type ApiError } from '../../../src/errors/errors.js';
import { checkTexts, MAX_INPUTS, MAX_TEXT_CHARS } from '../../../src/embeddings/limits.js';

const codeOf = (texts: string[]) => {
  try {
    checkTexts(texts);
    return 'ok';
  } catch (err) {
    return `${(err as ApiError).status} ${(err as ApiError).code}: ${(err as ApiError).message}`;
  }
};

describe('checkTexts', () => {
  it('accepts texts up to the limits', () => {
    expect(codeOf(['hello'])).toBe('ok');
    expect(codeOf(Array.from({ length: MAX_INPUTS }, () => 'x'.repeat(MAX_TEXT_CHARS)))).toBe('ok');
  });

  it('names the limit each bad input breaks', () => {
    expect(codeOf([])).toMatch(/^400 empty_input: input must contain at least one text/);
    expect(codeOf(['ok', '  '])).toMatch(/^400 empty_input: input\[1\] is empty/);
    expect(codeOf(Array.from({ length: MAX_INPUTS + 1 }, () => 'x'))).toMatch(
      new RegExp(`^400 too_many_inputs: .*at most ${MAX_INPUTS}`),
    );
    expect(codeOf(['x'.repeat(MAX_TEXT_CHARS + 1)])).toMatch(
      new RegExp(`^400 input_too_long: input\\[0\\] .*at most ${MAX_TEXT_CHARS}`),
    );
  });
});
