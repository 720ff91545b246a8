import { context, propagation, trace, type Context, type Link, type Span, type SpanOptions } from '@opentelemetry/api';

/**
 * The tracer every module uses. Without an OTLP endpoint no SDK is registered and these calls
 * cost nothing (the API's no-op tracer); with one, tracing/feature.ts registers the SDK and the
 * same calls record spans.
 */
export const tracer = trace.getTracer('lastcall');

/** A span context as stored in a row (W3C `traceparent`), so another replica can continue the trace. */
export type StoredTrace = string;

/** The `traceparent` of `span`, to store; undefined when tracing is off. */
export function traceparentOf(span: Span): StoredTrace | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  return carrier.traceparent;
}

/** The context a stored (or received) `traceparent` names; the active one when there is none. */
export function contextOf(traceparent: string | undefined): Context {
  return traceparent ? propagation.extract(context.active(), { traceparent }) : context.active();
}

/** A link to the span a stored `traceparent` names (how a takeover points at the replica before it). */
export function linkTo(traceparent: string | undefined): Link[] {
  if (!traceparent) return [];
  const spanContext = trace.getSpanContext(contextOf(traceparent));
  return spanContext ? [{ context: spanContext }] : [];
}

/**
 * This replica's part of a stream's or task's trace: a span in the stored trace (under its root),
 * linked to the span of the replica that held it before.
 */
export function continueTrace(
  name: string,
  attributes: SpanOptions['attributes'],
  stored: { readonly root?: StoredTrace; readonly last?: StoredTrace } | null | undefined,
): Span {
  return tracer.startSpan(name, { attributes, links: linkTo(stored?.last) }, contextOf(stored?.root));
}

/** Runs `fn` in a new span (a child of the active one), ending it with `fn`, recording a throw. */
export async function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, options, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: 2, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Headers that carry the active trace to the next hop (the upstream LLM). */
export function traceHeaders(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}
