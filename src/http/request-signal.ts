import type { RequestHandler, Response } from 'express';

/**
 * Every request gets an AbortSignal the moment it arrives, aborted when its response closes
 * (finished, or the client went away). A handler that awaits the database and only then listened
 * for `close` would never hear it if the client left during the await — the socket's `close` is
 * emitted once — and would hold its slot forever. Handlers check this signal after every await
 * instead, and long responses subscribe through it (see EventStream), which cannot be too late.
 */
export const bindRequestSignal: RequestHandler = (_req, res, next) => {
  const controller = new AbortController();
  res.once('close', () => controller.abort());
  res.locals.signal = controller.signal;
  next();
};

export function requestSignal(res: Response): AbortSignal {
  const signal = res.locals.signal as AbortSignal | undefined;
  if (!signal) throw new Error('requestSignal called on a response without bindRequestSignal');
  return signal;
}
