import type net from 'node:net';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamChat } from '../../src/client/index.js';
import { createUpstreamServer } from '../../src/upstream/server.js';
import { startPostgres, type PostgresInstance } from '../../testkit/postgres.js';
import { forwarder } from '../../testkit/forwarder.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly links?: { traceId: string; spanId: string }[];
  readonly replica: string;
}

/** A real OTLP/HTTP receiver: it decodes what the exporter sends (JSON) into spans tagged with their replica. */
function otlpReceiver() {
  const spans: OtlpSpan[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const payload = JSON.parse(body) as {
          resourceSpans: {
            resource: { attributes: { key: string; value: { stringValue?: string } }[] };
            scopeSpans: { spans: Omit<OtlpSpan, 'replica'>[] }[];
          }[];
        };
        for (const rs of payload.resourceSpans) {
          const replica = rs.resource.attributes.find((a) => a.key === 'service.instance.id')?.value.stringValue ?? '?';
          for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, replica });
        }
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  return {
    spans,
    listen: () =>
      new Promise<string>((r) =>
        server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`)),
      ),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The dev upstream behind a proxy that records each request's `traceparent`. */
async function tracedUpstream() {
  const upstream = createUpstreamServer({ tokensPerSecond: 40 });
  const target = new URL(await upstream.listen());
  const traceparents: string[] = [];
  const proxy = http.createServer((req, res) => {
    if (typeof req.headers.traceparent === 'string') traceparents.push(req.headers.traceparent);
    const out = http.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    res.on('close', () => out.destroy());
    req.pipe(out);
  });
  const url = await new Promise<string>((r) =>
    proxy.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}/v1`)),
  );
  return {
    url,
    traceparents,
    close: async () => {
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
      await upstream.close();
    },
  };
}

describe('one trace per stream across a SIGTERM handoff (real OTLP receiver, two replicas, real PostgreSQL)', () => {
  let pgi: PostgresInstance;
  let receiver: ReturnType<typeof otlpReceiver>;
  let upstream: Awaited<ReturnType<typeof tracedUpstream>>;
  const replicas: ServiceProcess[] = [];

  beforeAll(async () => {
    receiver = otlpReceiver();
    [pgi, upstream] = await Promise.all([startPostgres(), tracedUpstream()]);
  });
  afterAll(async () => {
    for (const r of replicas) r.kill('SIGKILL');
    await Promise.all(replicas.map((r) => r.exited));
    await Promise.all([upstream?.close(), receiver?.close(), pgi?.stop()]);
  });

  it('continues the stream’s trace on the replica that takes it over, linked to the one before', async () => {
    const endpoint = await receiver.listen();
    const env = (replica: string) => ({
      DATABASE_URL: pgi.url,
      REPLICA_ID: replica,
      OPENAI_BASE_URL: upstream.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      TERMINATION_GRACE_PERIOD_SECONDS: '6',
      SHUTDOWN_SAFETY_MARGIN_SECONDS: '1',
    });
    const [a, b] = await Promise.all([startService(env('trace-a')), startService(env('trace-b'))]);
    replicas.push(a, b);
    const service = forwarder();
    const url = await service.listen();
    service.point(a.port);
    const result = await streamChat(
      url,
      { messages: [{ role: 'user', content: 'follow me across replicas' }], max_tokens: 300 },
      {
        onEvent: (e) => {
          if (e.event === 'token' && e.id === 30) {
            service.point(b.port);
            a.kill('SIGTERM');
          }
        },
      },
    );
    await service.close();
    expect(result.resumes).toBeGreaterThanOrEqual(1);
    expect((await a.exited).code).toBe(0);
    // B's spans go out at its own exit (the exit phase flushes the exporter).
    b.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);

    const generate = receiver.spans.filter((s) => s.name === 'stream.generate');
    const fromA = generate.find((s) => s.replica === 'trace-a')!;
    const fromB = generate.find((s) => s.replica === 'trace-b')!;
    expect(fromA).toBeDefined();
    expect(fromB).toBeDefined();
    const traceId = fromA.traceId;
    // One trace: both replicas' generations, each a child of the stream's root span.
    expect(fromB.traceId).toBe(traceId);
    const root = receiver.spans.find((s) => s.name === 'stream' && s.traceId === traceId)!;
    expect(fromA.parentSpanId).toBe(root.spanId);
    expect(fromB.parentSpanId).toBe(root.spanId);
    // The takeover links to the generation of the replica before.
    expect(fromB.links).toEqual([expect.objectContaining({ traceId, spanId: fromA.spanId })]);
    // The request that started it is the root's parent.
    const request = receiver.spans.find((s) => s.spanId === root.parentSpanId)!;
    expect(request.name).toBe('POST /v1/chat/stream');
    // Upstream calls from both replicas, in the trace, and the upstream was told so (traceparent).
    const upstreamCalls = receiver.spans.filter((s) => s.name === 'upstream.generate' && s.traceId === traceId);
    expect(new Set(upstreamCalls.map((s) => s.replica))).toEqual(new Set(['trace-a', 'trace-b']));
    for (const call of upstreamCalls) expect(upstream.traceparents).toContain(`00-${traceId}-${call.spanId}-01`);
    // Database calls inside the generation, and A's drain phases.
    expect(receiver.spans.some((s) => s.name.startsWith('db.') && s.traceId === traceId)).toBe(true);
    const phases = receiver.spans.filter((s) => s.replica === 'trace-a' && s.name.startsWith('shutdown.')).map((s) => s.name);
    expect(phases).toEqual(
      expect.arrayContaining(['shutdown.announce', 'shutdown.drain', 'shutdown.handoff', 'shutdown.release']),
    );
    console.log(
      'trace',
      traceId,
      JSON.stringify(
        receiver.spans
          .filter((s) => s.traceId === traceId)
          .map((s) => ({
            name: s.name,
            replica: s.replica,
            span: s.spanId,
            parent: s.parentSpanId,
            links: s.links?.map((l) => l.spanId),
          })),
      ),
    );
  });
});
