import { badRequest } from '../errors/errors.js';
import { textProblem } from '../http/validate.js';

/** Texts in one request (OpenAI's own limit is 2048; 256 keeps one request's memory small). */
export const MAX_INPUTS = 256;
/** Characters in one text: longer texts are refused rather than silently truncated. */
export const MAX_TEXT_CHARS = 8192;

/** How error messages name the texts: the list, and one text by its index. */
export interface TextField {
  readonly list: string;
  item(index: number): string;
}

export const INPUT_FIELD: TextField = { list: 'input', item: (i) => `input[${i}]` };

/** Throws a 400 naming the limit a batch of texts breaks; shared by every caller of the model. */
export function checkTexts(texts: readonly string[], field: TextField = INPUT_FIELD): void {
  if (texts.length === 0) throw badRequest('empty_input', `${field.list} must contain at least one text`);
  if (texts.length > MAX_INPUTS) {
    throw badRequest('too_many_inputs', `${field.list} has ${texts.length} texts; at most ${MAX_INPUTS} per request`);
  }
  texts.forEach((t, i) => {
    if (t.trim().length === 0) throw badRequest('empty_input', `${field.item(i)} is empty`);
    if (t.length > MAX_TEXT_CHARS) {
      throw badRequest('input_too_long', `${field.item(i)} has ${t.length} characters; at most ${MAX_TEXT_CHARS}`);
    }
    const problem = textProblem(t);
    if (problem) throw badRequest('invalid_text', `${field.item(i)} ${problem}`);
  });
}
