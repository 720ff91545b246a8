/**
 * Fail closed (auth.*): no API keys, no render, unless anonymous access is chosen; and the app
 * settings the chart renders as env (config.llmResumeMode, streamPersist, embeddingModelAliases,
 * retentionHours, tracing.otlpEndpoint).
 */
import { describe, expect, it } from 'vitest';
import { CI_VALUES, envMap, find, podSpec, render, renderError, runHelm, CHART, type Container, type K8sObject } from './helm.js';

const configMap = (objs: K8sObject[]) =>
  (find(objs, 'ConfigMap', 'lc-lastcall') as unknown as { data: Record<string, string> }).data;
const container = (objs: K8sObject[]): Container => podSpec(find(objs, 'Deployment')).containers[0]!;

describe('auth: fail closed', () => {
  it('refuses to render without API keys, naming the ways out', () => {
    const err = renderError({ strictAuth: true });
    expect(err).toMatch(/auth: no API keys are configured/);
    expect(err).toMatch(/secret.apiKeys \(or secret.existingSecret with API_KEYS\), or auth.allowAnonymous=true/);
  });

  it('renders with keys, with an existing Secret, or with anonymous access chosen', () => {
    const cases: Parameters<typeof render>[0][] = [
      { strictAuth: true, setJson: { 'secret.apiKeys': ['k'] } },
      { strictAuth: true, set: { 'secret.existingSecret': 'keys' } },
      { strictAuth: true, set: { 'auth.allowAnonymous': true } },
    ];
    for (const c of cases) expect(() => render(c)).not.toThrow();
  });

  it('ALLOW_ANONYMOUS and ALLOW_KEY_IN_QUERY are "false" unless chosen', () => {
    let data = configMap(render({ strictAuth: true, setJson: { 'secret.apiKeys': ['k'] } }));
    expect(data.ALLOW_ANONYMOUS).toBe('false');
    expect(data.ALLOW_KEY_IN_QUERY).toBe('false');
    data = configMap(render({ set: { 'auth.allowAnonymous': true, 'auth.allowKeyInQuery': true } }));
    expect(data.ALLOW_ANONYMOUS).toBe('true');
    expect(data.ALLOW_KEY_IN_QUERY).toBe('true');
  });

  it('an existing Secret must hold API_KEYS unless anonymous access is chosen', () => {
    const ref = (o: Parameters<typeof render>[0]) => envMap(container(render(o))).get('API_KEYS')?.valueFrom?.secretKeyRef;
    expect(ref({ set: { 'secret.existingSecret': 'keys' } })?.optional).toBe(false);
    expect(ref({ set: { 'secret.existingSecret': 'keys', 'auth.allowAnonymous': true } })?.optional).toBe(true);
  });

  it('every ci scenario makes the choice explicitly, and extraEnv cannot override it', () => {
    for (const [, f] of CI_VALUES) expect(() => render({ files: [f], strictAuth: true })).not.toThrow();
    expect(renderError({ setJson: { extraEnv: [{ name: 'ALLOW_ANONYMOUS', value: 'true' }] } })).toMatch(
      /extraEnv: ALLOW_ANONYMOUS is set by the chart/,
    );
  });

  it('NOTES.txt warns when the API is open', () => {
    const r = runHelm(['install', 'demo', CHART, '--dry-run=client', '--set', 'auth.allowAnonymous=true']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/WARNING: auth.allowAnonymous=true and no API keys: the API is open/);
  });
});

describe('app settings', () => {
  it("defaults: after-send persistence, 24 h retention, the app's resume mode, no aliases, no tracing", () => {
    const data = configMap(render());
    expect(data.STREAM_PERSIST).toBe('after-send');
    expect(data.STREAM_LOG_FORMAT).toBe('rows');
    expect(data.RETENTION_HOURS).toBe('24');
    for (const k of ['LLM_RESUME_MODE', 'EMBEDDING_MODEL_ALIASES', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SERVICE_NAME'])
      expect(data[k], k).toBeUndefined();
  });

  it('renders each setting from its value', () => {
    const data = configMap(
      render({
        set: {
          'config.llmResumeMode': 'responses',
          'config.streamPersist': 'before-send',
          'config.streamLogFormat': 'compact',
          'config.retentionHours': 72,
          'tracing.otlpEndpoint': 'http://otel:4318',
        },
        setJson: { 'config.embeddingModelAliases': ['text-embedding-3-small', 'text-embedding-3-large'] },
      }),
    );
    expect(data).toMatchObject({
      LLM_RESUME_MODE: 'responses',
      STREAM_PERSIST: 'before-send',
      STREAM_LOG_FORMAT: 'compact',
      RETENTION_HOURS: '72',
      EMBEDDING_MODEL_ALIASES: 'text-embedding-3-small,text-embedding-3-large',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318',
      OTEL_SERVICE_NAME: 'lc-lastcall',
    });
  });

  it('the schema refuses what the app would', () => {
    expect(renderError({ set: { 'config.llmResumeMode': 'guess' } })).toMatch(/llmResumeMode/);
    expect(renderError({ set: { 'config.streamPersist': 'never' } })).toMatch(/streamPersist/);
    expect(renderError({ set: { 'config.streamLogFormat': 'zip' } })).toMatch(/streamLogFormat/);
    expect(renderError({ set: { 'config.retentionHours': -1 } })).toMatch(/retentionHours/);
    expect(renderError({ set: { 'config.retentionHours': 0.0001 } })).toMatch(/retentionHours/);
    expect(renderError({ setJson: { 'config.embeddingModelAliases': ['a,b'] } })).toMatch(/embeddingModelAliases/);
    expect(renderError({ set: { 'tracing.otlpEndpoint': 'otel:4318' } })).toMatch(/otlpEndpoint/);
  });
});
