/**
 * Every object the chart renders, in every scenario and on both sides of the 1.30 preStop
 * switch, validates against its schema: the Kubernetes OpenAPI schemas (kubernetes-models) for
 * built-in kinds, and the CRDs' own openAPIV3Schema (test/chart/crd-schemas/, checked by
 * crd-schema.ts) for the ServiceMonitor, PrometheusRule, HTTPRoute and KEDA ScaledObject.
 */
import { ConfigMap, Pod, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { describe, expect, it } from 'vitest';
import { celRules, loadCrdSchema, validateStructural, type CrdSchema } from './crd-schema.js';
import { CI_VALUES, render, type K8sObject } from './helm.js';

interface Validatable {
  validate(): void;
}
type Model = new (data: never) => Validatable;

const MODELS: Record<string, Model> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Pod': Pod,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'networking.k8s.io/v1/Ingress': Ingress,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};
/** CRDs, validated against their own openAPIV3Schema (test/chart/crd-schemas/README.md). */
const CRDS: Record<string, CrdSchema> = Object.fromEntries(
  [
    'monitoring.coreos.com_v1_ServiceMonitor.json',
    'monitoring.coreos.com_v1_PrometheusRule.json',
    'gateway.networking.k8s.io_v1_HTTPRoute.json',
    'keda.sh_v1alpha1_ScaledObject.json',
  ].map((f) => {
    const crd = loadCrdSchema(f);
    return [`${crd.group}/${crd.version}/${crd.kind}`, crd];
  }),
);

function validate(o: K8sObject): void {
  const key = `${o.apiVersion}/${o.kind}`;
  const crd = CRDS[key];
  if (crd) {
    // Plain JSON: @kubernetes/client-node's parser hands back typed models for some kinds.
    const errors = validateStructural(JSON.parse(JSON.stringify(o)), crd.openAPIV3Schema);
    if (errors.length) throw new Error(`${key} ${o.metadata.name} is invalid against ${crd.$source}:\n  ${errors.join('\n  ')}`);
    return;
  }
  const M = MODELS[key];
  if (!M) throw new Error(`no kubernetes-models class for ${key} (${o.metadata.name}): add it to MODELS`);
  try {
    new M(o as never).validate();
  } catch (err) {
    throw new Error(`${key} ${o.metadata.name} is invalid: ${(err as Error).message}`, { cause: err });
  }
}

// Every optional feature on, so every template is exercised (KEDA instead of the HPA in
// EVERYTHING_KEDA: the two are mutually exclusive).
const EVERYTHING = {
  set: {
    'metrics.serviceMonitor.enabled': true,
    'metrics.prometheusRule.enabled': true,
    'networkPolicy.enabled': true,
    'postgresql.enabled': true,
    'postgresql.auth.password': 'pw',
    'postgresql.image.digest': `sha256:${'c'.repeat(64)}`,
    'image.digest': `sha256:${'d'.repeat(64)}`,
    replicaCount: 3,
    'secret.openaiApiKey': 'sk',
    'config.openaiBaseUrl': 'https://llm.example.com/v1',
    'tracing.otlpEndpoint': 'http://otel-collector.observability:4318',
    'podDisruptionBudget.minAvailable': '50%',
    'autoscaling.enabled': true,
    'autoscaling.targetActiveStreamsPerPod': 50,
    'ingress.enabled': true,
    'ingress.className': 'nginx',
    'httpRoute.enabled': true,
  },
  setJson: {
    'secret.apiKeys': ['a', 'b'],
    'config.embeddingModelAliases': ['text-embedding-3-small'],
    'networkPolicy.egress.upstream.to': [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }],
    'networkPolicy.egress.otlp.to': [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } } }],
    'ingress.tls': [{ secretName: 'lastcall-tls', hosts: ['lastcall.local'] }],
    'httpRoute.parentRefs': [{ name: 'eg', namespace: 'envoy-gateway-system', sectionName: 'https' }],
    'httpRoute.hostnames': ['lastcall.example.com'],
    imagePullSecrets: ['regcred'],
    'networkPolicy.apiFrom': [{ namespaceSelector: { matchLabels: { team: 'web' } } }],
    'networkPolicy.metricsFrom': [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
    extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=512' }],
    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' }],
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ai', effect: 'NoSchedule' }],
    affinity: {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 1, preference: { matchExpressions: [{ key: 'pool', operator: 'In', values: ['cpu'] }] } },
        ],
      },
    },
  },
};

const EVERYTHING_KEDA = {
  set: {
    ...EVERYTHING.set,
    'autoscaling.enabled': false,
    'autoscaling.keda.enabled': true,
    'autoscaling.keda.serverAddress': 'http://prometheus-operated.monitoring.svc:9090',
    'autoscaling.keda.activationThreshold': 5,
  },
  setJson: EVERYTHING.setJson,
};

const scenarios: [string, Parameters<typeof render>[0]][] = [
  ...CI_VALUES.map(([s, f]): [string, Parameters<typeof render>[0]] => [`ci/${s}`, { files: [f] }]),
  ['everything on', EVERYTHING],
  ['everything on, KEDA instead of the HPA', EVERYTHING_KEDA],
  ['no preStop', { set: { 'shutdown.preStopSleepSeconds': 0, spreadAcrossNodes: 'hard', 'service.type': 'NodePort' } }],
];

describe('rendered objects validate against the Kubernetes schemas', () => {
  for (const kubeVersion of ['1.29.0', '1.33.1']) {
    for (const [name, opts] of scenarios) {
      it(`${name} (Kubernetes ${kubeVersion})`, () => {
        const objs = render({ ...opts, kubeVersion });
        expect(objs.length).toBeGreaterThan(3);
        for (const o of objs) validate(o);
      });
    }
  }

  it('covers every kind the chart can render', () => {
    const kinds = new Set(
      [...render({ ...EVERYTHING }), ...render({ ...EVERYTHING_KEDA })].map((o) => `${o.apiVersion}/${o.kind}`),
    );
    expect([...kinds].sort()).toEqual([...Object.keys(MODELS), ...Object.keys(CRDS)].sort());
  });

  it('the CRD checker refuses what the API server would', () => {
    const route = CRDS['gateway.networking.k8s.io/v1/HTTPRoute']!.openAPIV3Schema;
    const ok = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'x' },
      spec: { parentRefs: [{ name: 'eg' }], rules: [{ timeouts: { request: '1h' } }] },
    };
    expect(validateStructural(ok, route)).toEqual([]);
    const bad = { ...ok, spec: { parentRefs: [{ name: 'eg' }], rules: [{ timeouts: { request: 'forever' } }], retries: 3 } };
    const errors = validateStructural(bad, route);
    expect(errors.some((e) => e.startsWith('spec.rules[0].timeouts.request'))).toBe(true);
    expect(errors).toContain('spec.retries: unknown field');
    const so = CRDS['keda.sh/v1alpha1/ScaledObject']!.openAPIV3Schema;
    expect(
      validateStructural({ apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name: 'x' }, spec: {} }, so).join(),
    ).toMatch(/scaleTargetRef is required/);
  });

  it('the HTTPRoute keeps the CEL rules the checker cannot evaluate: backendRequest <= request', () => {
    const rules = celRules(CRDS['gateway.networking.k8s.io/v1/HTTPRoute']!.openAPIV3Schema).filter((r) =>
      r.path.endsWith('timeouts'),
    );
    expect(rules.length).toBeGreaterThan(0);
    const route = render({ ...EVERYTHING }).find((o) => o.kind === 'HTTPRoute') as unknown as {
      spec: { rules: { timeouts: { request: string; backendRequest: string } }[] };
    };
    const seconds = (d: string) =>
      [...d.matchAll(/(\d+)(h|ms|m|s)/g)].reduce(
        (t, [, n, u]) => t + Number(n) * { h: 3600, m: 60, s: 1, ms: 0.001 }[u as 'h'],
        0,
      );
    for (const r of route.spec.rules) expect(seconds(r.timeouts.backendRequest)).toBeLessThanOrEqual(seconds(r.timeouts.request));
  });

  it('ServiceMonitor has the expected shape', () => {
    const sm = render({ set: { 'metrics.serviceMonitor.enabled': true } }).find(
      (o) => o.kind === 'ServiceMonitor',
    ) as unknown as {
      apiVersion: string;
      spec: {
        selector: { matchLabels: Record<string, string> };
        endpoints: { port: string; path: string; interval: string }[];
        namespaceSelector: { matchNames: string[] };
      };
    };
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.spec.endpoints).toHaveLength(1);
    expect(sm.spec.endpoints[0]).toMatchObject({ port: 'admin', path: '/metrics', interval: '5s' });
    expect(sm.spec.namespaceSelector.matchNames).toEqual(['ns']);
  });
});
