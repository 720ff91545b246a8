import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import type { RequestHandler } from 'express';
import { tracer } from '../tracing/spans.js';
import { routeLabel } from './routes.js';

/**
 * A server span per request, continuing the caller's trace (`traceparent`) when it sends one;
 * everything the request does (a stream it starts, database calls) is a child of it. Named by the
 * route template once the route is known.
 */
export const traceRequest: RequestHandler = (req, res, next) => {
  const parent = propagation.extract(context.active(), req.headers);
  const span = tracer.startSpan(req.method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method } }, parent);
  res.once('close', () => {
    const route = routeLabel(res);
    span.updateName(`${req.method} ${route}`);
    span.setAttributes({ 'http.route': route, 'http.response.status_code': res.statusCode });
    if (res.statusCode >= 500) span.setStatus({ code: 2 });
    span.end();
  });
  context.with(trace.setSpan(parent, span), next);
};
