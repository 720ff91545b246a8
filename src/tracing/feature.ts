import type { CoreDeps, Feature } from '../feature.js';
import { untilAborted } from '../time/clock.js';

export interface TracingConfig {
  /** OTLP/HTTP collector; undefined: tracing off, nothing loaded. */
  readonly endpoint: string | undefined;
  readonly serviceName: string;
}

/**
 * OpenTelemetry traces, on when an OTLP endpoint is configured: the SDK is loaded and registered
 * then (the rest of the code only uses the API, which is a no-op without it), spans are exported
 * in batches over OTLP/HTTP, and the `exit` phase flushes what is left. Every replica names itself
 * as `service.instance.id`, so a trace that crosses a handoff shows which replica did what.
 */
export async function createTracingFeature(deps: CoreDeps, config: TracingConfig): Promise<Feature> {
  if (!config.endpoint) return { name: 'tracing', participants: [] };
  const { NodeSDK, resources, tracing } = await import('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const sdk = new NodeSDK({
    serviceName: config.serviceName,
    autoDetectResources: false,
    resource: resources.resourceFromAttributes({ 'service.name': config.serviceName, 'service.instance.id': deps.replica }),
    spanProcessors: [
      new tracing.BatchSpanProcessor(new OTLPTraceExporter({ url: `${config.endpoint.replace(/\/+$/, '')}/v1/traces` })),
    ],
    instrumentations: [],
  });
  sdk.start();
  deps.logger.info({ endpoint: config.endpoint, serviceName: config.serviceName }, 'tracing to OTLP endpoint');
  return {
    name: 'tracing',
    participants: [
      {
        // Last, so the spans of every earlier phase go out with it.
        name: 'tracing:flush',
        phase: 'exit',
        async close(deadline) {
          await Promise.race([sdk.shutdown(), untilAborted(deadline.signal)]);
          return { flushed: !deadline.signal.aborted };
        },
      },
    ],
  };
}
