/**
 * The chart and the app agree: the env a rendered pod gets (its own env plus the ConfigMap)
 * passes the app's start-up validation (src/config/load.ts), names only variables the app
 * knows, and yields the budget the pod spec implies. The chart's "no drain budget" rule and the
 * app's refusal to start fire at the same boundary.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { envSchema } from '../../src/config/schema.js';
import { CI_VALUES, find, podSpec, render, renderError, type K8sObject } from './helm.js';

/**
 * Variables the chart sets for other readers than the app's schema: node-postgres' PGPASSWORD,
 * the OpenTelemetry SDK's OTEL_SERVICE_NAME.
 */
const NOT_FOR_THE_APP = new Set(['PGPASSWORD']);

/** Stand-ins for what the kubelet would resolve from Secrets and the downward API. */
function resolveRef(name: string): string {
  switch (name) {
    case 'DATABASE_URL':
      return 'postgresql://lastcall:secret@db:5432/lastcall';
    case 'API_KEYS':
      return 'first:key-1-0123456789abcdefghij,second:key-2-0123456789abcdefghij';
    case 'OPENAI_API_KEY':
      return 'sk-test';
    case 'PGPASSWORD':
      return 'secret';
    case 'REPLICA_ID':
      return 'lc-lastcall-5d9c7-abcde';
    default:
      throw new Error(`test does not know how to resolve ${name}`);
  }
}

/** The process environment the container would start with. */
function podEnv(objs: K8sObject[]): Record<string, string> {
  const c = podSpec(find(objs, 'Deployment')).containers[0]!;
  const env: Record<string, string> = {};
  for (const ref of c.envFrom ?? []) {
    const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === ref.configMapRef?.name) as unknown as {
      data: Record<string, string>;
    };
    Object.assign(env, cm.data);
  }
  for (const e of c.env ?? []) {
    // $(VAR) expansion as the kubelet does it, from variables defined earlier.
    env[e.name] =
      e.value !== undefined ? e.value.replace(/\$\(([A-Z_][A-Z0-9_]*)\)/g, (m, v: string) => env[v] ?? m) : resolveRef(e.name);
  }
  return env;
}

const scenarios: [string, Parameters<typeof render>[0]][] = [
  ...CI_VALUES.map(([s, f]): [string, Parameters<typeof render>[0]] => [`ci/${s}`, { files: [f] }]),
  [
    'API keys and an OpenAI key in the chart Secret',
    {
      setJson: { 'secret.apiKeys': ['a', 'b'] },
      set: { 'secret.openaiApiKey': 'sk', 'config.openaiBaseUrl': 'https://api.example.com/v1' },
    },
  ],
  ['external database URL', { set: { 'database.url': 'postgresql://u:p@db:5432/x', replicaCount: 2 } }],
  [
    'resume mode, persistence, aliases, retention and tracing',
    {
      set: {
        'config.llmResumeMode': 'vllm',
        'config.streamPersist': 'before-send',
        'config.retentionHours': 48,
        'tracing.otlpEndpoint': 'http://otel-collector.observability:4318',
        'auth.allowKeyInQuery': true,
      },
      setJson: { 'config.embeddingModelAliases': ['text-embedding-3-small', 'text-embedding-ada-002'] },
    },
  ],
];

describe('the app accepts what the chart renders', () => {
  for (const [name, opts] of scenarios) {
    it(name, () => {
      const env = podEnv(render(opts));
      const known = new Set(Object.keys(envSchema.shape));
      const unknown = Object.keys(env).filter((k) => !known.has(k) && !NOT_FOR_THE_APP.has(k));
      expect(unknown, 'env the app does not read').toEqual([]);

      const config = loadConfig(env);
      const grace = Number(env.TERMINATION_GRACE_PERIOD_SECONDS);
      const preStop = Number(env.PRESTOP_SLEEP_SECONDS);
      const margin = Number(env.SHUTDOWN_SAFETY_MARGIN_SECONDS);
      expect(config.shutdown.budget.totalMs).toBe((grace - preStop - margin) * 1000);
      expect(config.shutdown.budget.endpointPropagationSeconds).toBe(Number(env.ENDPOINT_PROPAGATION_SECONDS));
      const pod = podSpec(find(render(opts), 'Deployment'));
      expect(config.shutdown.budget.gracePeriodSeconds).toBe(pod.terminationGracePeriodSeconds);
      if (env.DATABASE_URL) expect(config.database.url).toMatch(/^postgres(ql)?:\/\//);
      // What the chart renders is what the app reads.
      expect(config.streams.persist).toBe(env.STREAM_PERSIST);
      expect(config.retention.hours).toBe(Number(env.RETENTION_HOURS));
      expect(config.llm.resumeMode).toBe(env.LLM_RESUME_MODE || undefined);
      expect(config.embeddings.aliases.join(',')).toBe(env.EMBEDDING_MODEL_ALIASES ?? '');
      expect(config.tracing.endpoint).toBe(env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined);
      expect(config.http.auth.allowAnonymous).toBe(env.ALLOW_ANONYMOUS === 'true' || !env.API_KEYS);
      expect(config.http.auth.allowKeyInQuery).toBe(env.ALLOW_KEY_IN_QUERY === 'true');
    });
  }

  it('the bundled database URL carries the password once the kubelet expands $(PGPASSWORD)', () => {
    const env = podEnv(render({ set: { 'postgresql.enabled': true, 'postgresql.auth.password': 'pw' } }));
    expect(env.DATABASE_URL).toBe('postgresql://lastcall:secret@lc-lastcall-postgresql:5432/lastcall');
    expect(loadConfig(env).database.url).toBe(env.DATABASE_URL);
  });
});

describe('chart and app refuse the same shutdown timings', () => {
  const timings: { grace: number; preStop: number; margin: number; propagation: number | undefined; finalScrape?: number }[] = [
    { grace: 8, preStop: 2, margin: 1, propagation: undefined },
    { grace: 30, preStop: 0, margin: 2, propagation: undefined },
    { grace: 20, preStop: 3, margin: 2, propagation: 4 },
    { grace: 12, preStop: 0, margin: 0, propagation: 9 },
    { grace: 10, preStop: 2, margin: 1, propagation: undefined, finalScrape: 3 },
  ];
  for (const t of timings) {
    it(`grace ${t.grace}, preStop ${t.preStop}, margin ${t.margin}, propagation ${t.propagation ?? 'default'}, final scrape ${t.finalScrape ?? 0}`, () => {
      const set: Record<string, number> = {
        'shutdown.terminationGracePeriodSeconds': t.grace,
        'shutdown.preStopSleepSeconds': t.preStop,
        'shutdown.safetyMarginSeconds': t.margin,
      };
      if (t.propagation !== undefined) set['shutdown.endpointPropagationSeconds'] = t.propagation;
      if (t.finalScrape !== undefined) set['shutdown.finalScrapeWaitSeconds'] = t.finalScrape;
      // Accepted by both at this boundary or above...
      const env = podEnv(render({ set }));
      expect(() => loadConfig(env)).not.toThrow();
      // ...and one second less of grace: find where each starts refusing.
      let chartRefuses = Infinity;
      let appRefuses = Infinity;
      for (let g = t.grace; g >= 3 && (chartRefuses === Infinity || appRefuses === Infinity); g--) {
        const s = { ...set, 'shutdown.terminationGracePeriodSeconds': g };
        if (chartRefuses === Infinity) {
          try {
            render({ set: s });
          } catch {
            chartRefuses = g;
          }
        }
        if (appRefuses === Infinity) {
          try {
            loadConfig({ ...env, TERMINATION_GRACE_PERIOD_SECONDS: String(g) });
          } catch {
            appRefuses = g;
          }
        }
      }
      expect(chartRefuses).not.toBe(Infinity);
      expect(chartRefuses).toBe(appRefuses);
    });
  }

  it('the chart names the same numbers the app would', () => {
    const err = renderError({
      set: { 'shutdown.terminationGracePeriodSeconds': 5, 'shutdown.preStopSleepSeconds': 2, 'shutdown.safetyMarginSeconds': 2 },
    });
    expect(err).toMatch(/terminationGracePeriodSeconds \(5\) - preStopSleepSeconds \(2\) - safetyMarginSeconds \(2\)/);
  });
});
