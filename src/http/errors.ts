import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { ApiError } from '../errors/errors.js';
import type { Logger } from '../log/logger.js';

/**
 * How a route's errors are written: lastcall's own `{"error":{"code","message"}}`, or OpenAI's
 * `{"error":{"message","type","param","code"}}` on the OpenAI-compatible routes, so the openai
 * SDKs raise their typed errors with `code`, `param` and `type` filled in. Which one is a
 * property of the path (see `errorStyleFor`), set on the response before anything can fail.
 */
export type ErrorStyle = 'lastcall' | 'openai';

/** Marks the requests it sees as answered in `style` (the HTTP feature mounts it on paths, before intake: a 503 while draining is shaped too). */
export function errorStyleFor(style: ErrorStyle): RequestHandler {
  return (_req, res, next) => {
    res.locals.errorStyle = style;
    next();
  };
}

const styleOf = (res: ServerResponse): ErrorStyle =>
  (res as ServerResponse & { locals?: { errorStyle?: ErrorStyle } }).locals?.errorStyle ?? 'lastcall';

/** OpenAI's error `type` for a status (https://platform.openai.com/docs/guides/error-codes). */
const openAiType = (status: number) => (status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error');

/** The body of an error in a style: the one mapper every error goes through. */
export function errorBody(err: ApiError, style: ErrorStyle): { error: Record<string, unknown> } {
  return style === 'openai'
    ? { error: { message: err.message, type: openAiType(err.status), param: err.param, code: err.code } }
    : { error: { code: err.code, message: err.message } };
}

/** The one place an error becomes a response (also outside Express's routing). */
export function sendError(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify(errorBody(err, styleOf(res)));
  res.writeHead(err.status, {
    // The openai SDKs retry a 409 (a lock timeout to them) unless told not to; ours are final.
    ...(err.status === 409 && { 'x-should-retry': 'false' }),
    ...err.headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Errors raised by body-parser and the router carry an HTTP status (http-errors). */
interface HttpLikeError {
  type?: string;
  status?: number;
  message?: string;
}

/** A zod issue's path as OpenAI names a parameter: `messages[0].content`. */
function paramOf(path: readonly PropertyKey[]): string | null {
  if (path.length === 0) return null;
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

export function toApiError(err: unknown, maxBodyBytes: number): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'body';
    return new ApiError(
      400,
      'invalid_request',
      `${where}: ${issue?.message ?? 'invalid'}`,
      {},
      { param: paramOf(issue?.path ?? []) },
    );
  }
  const e = err as HttpLikeError | null;
  switch (e?.type) {
    case 'entity.parse.failed':
      return new ApiError(400, 'invalid_json', 'request body is not valid JSON');
    case 'entity.too.large':
      return new ApiError(413, 'payload_too_large', `request body exceeds ${maxBodyBytes} bytes (MAX_BODY_BYTES)`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError(415, 'unsupported_encoding', 'request body encoding or charset is not supported');
    case 'request.aborted':
      return new ApiError(400, 'request_aborted', 'request body was not fully received');
    default:
      break;
  }
  // Anything else that says it is the client's fault is: a body that does not decompress, a path
  // parameter that is not valid percent-encoding.
  const status = e?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = status === 400 ? 'bad_request' : status === 415 ? 'unsupported_encoding' : 'invalid_request';
    return new ApiError(status, code, `request could not be read: ${e?.message ?? 'invalid'}`);
  }
  return undefined;
}

export function errorHandler(logger: Logger, maxBodyBytes: number): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const apiError = toApiError(err, maxBodyBytes);
    if (apiError) return sendError(res, apiError);
    logger.error({ err, method: req.method, path: req.path }, 'unhandled error');
    sendError(res, new ApiError(500, 'internal', 'internal error'));
  };
}

export const notFoundHandler: RequestHandler = (req, res) =>
  sendError(res, new ApiError(404, 'not_found', `no route for ${req.method} ${req.path}`));

/** Answers 405 with an Allow header for a path that exists under other methods. */
export function methodNotAllowed(allowed: readonly string[]): RequestHandler {
  const allow = allowed.join(', ');
  return (req, res) =>
    sendError(res, new ApiError(405, 'method_not_allowed', `${req.method} not allowed; use ${allow}`, { Allow: allow }));
}
