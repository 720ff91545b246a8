import { ApiError, retryHeaders } from '../errors/errors.js';

/**
 * The OpenAI front door's own errors, worded as OpenAI words them
 * (https://platform.openai.com/docs/guides/error-codes); the HTTP layer writes them in OpenAI's
 * shape `{"error":{"message","type","param","code"}}` on these routes.
 */

/** OpenAI's answer to a model it does not serve: 404 `model_not_found`. */
export const modelNotFound = (model: string, served: readonly string[]) =>
  new ApiError(
    404,
    'model_not_found',
    `The model \`${model}\` does not exist or you do not have access to it; this service serves ${served.join(', ')}`,
    {},
    { param: 'model' },
  );

/** A parameter OpenAI has that lastcall does not support (with this value), named as such. */
export const unsupported = (param: string, message: string) => new ApiError(400, 'unsupported_parameter', message, {}, { param });

export const responseNotFound = (id: string) => new ApiError(404, 'not_found', `Response with id '${id}' not found.`);

/**
 * A request that waits for a whole answer (a chat completion without `stream`, a Responses
 * request waited for) whose replica handed the stream off before it was done. The stream goes
 * on elsewhere: the openai SDKs retry a 503 after `retry-after-ms`, and a retry with the same
 * `Idempotency-Key` joins the stream on whichever replica it reaches.
 */
export const handedOff = (streamId: string) =>
  new ApiError(
    503,
    'stream_handed_off',
    `this replica handed stream ${streamId} off before it finished; retry with the same Idempotency-Key to get the whole answer`,
    // Connection: close, so the retry opens a new connection, which the Service gives a serving replica.
    { ...retryHeaders(0.25), 'Lastcall-Stream-Id': streamId, Connection: 'close' },
  );

/** The upstream failed for good: a retry would only repeat it, so the SDK is told not to. */
export const upstreamFailed = (streamId: string, code: string, message: string) =>
  new ApiError(502, code, message, { 'x-should-retry': 'false', 'Lastcall-Stream-Id': streamId });
