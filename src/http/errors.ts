import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { ApiError } from '../errors/errors.js';
import type { Logger } from '../log/logger.js';

/** The one place an error becomes `{"error":{"code","message"}}` (also outside Express's routing). */
export function sendError(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify({ error: { code: err.code, message: err.message } });
  res.writeHead(err.status, {
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

export function toApiError(err: unknown, maxBodyBytes: number): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'body';
    return new ApiError(400, 'invalid_request', `${where}: ${issue?.message ?? 'invalid'}`);
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
