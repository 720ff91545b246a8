/**
 * Every object the chart renders, in every scenario and on both sides of the 1.30 preStop
 * switch, validates against the Kubernetes OpenAPI schemas (kubernetes-models).
 *
 * The ServiceMonitor is a CRD (monitoring.coreos.com/v1) that kubernetes-models does not
 * model: it is checked for shape here but not schema-validated.
 */
import { ConfigMap, Pod, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { describe, expect, it } from 'vitest';
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
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};
/** CRDs: not in kubernetes-models, so not schema-validated (shape-checked below). */
const CRDS = new Set(['monitoring.coreos.com/v1/ServiceMonitor']);

function validate(o: K8sObject): void {
  const key = `${o.apiVersion}/${o.kind}`;
  if (CRDS.has(key)) return;
  const M = MODELS[key];
  if (!M) throw new Error(`no kubernetes-models class for ${key} (${o.metadata.name}): add it to MODELS`);
  try {
    new M(o as never).validate();
  } catch (err) {
    throw new Error(`${key} ${o.metadata.name} is invalid: ${(err as Error).message}`, { cause: err });
  }
}

// Every optional feature on, so every template is exercised.
const EVERYTHING = {
  set: {
    'metrics.serviceMonitor.enabled': true,
    'networkPolicy.enabled': true,
    'postgresql.enabled': true,
    'postgresql.auth.password': 'pw',
    replicaCount: 3,
    'secret.openaiApiKey': 'sk',
    'podDisruptionBudget.minAvailable': '50%',
  },
  setJson: {
    'secret.apiKeys': ['a', 'b'],
    imagePullSecrets: ['regcred'],
    'networkPolicy.apiFrom': [{ namespaceSelector: { matchLabels: { team: 'web' } } }],
    'networkPolicy.metricsFrom': [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
    extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=512' }],
    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' }],
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ai', effect: 'NoSchedule' }],
    affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, preference: { matchExpressions: [{ key: 'pool', operator: 'In', values: ['cpu'] }] } }] } },
  },
};

const scenarios: [string, Parameters<typeof render>[0]][] = [
  ...CI_VALUES.map(([s, f]): [string, Parameters<typeof render>[0]] => [`ci/${s}`, { files: [f] }]),
  ['everything on', EVERYTHING],
  ['no preStop', { set: { 'shutdown.preStopSleepSeconds': 0, 'spreadAcrossNodes': 'hard', 'service.type': 'NodePort' } }],
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
    const kinds = new Set(render({ ...EVERYTHING }).map((o) => `${o.apiVersion}/${o.kind}`));
    expect([...kinds].sort()).toEqual([...Object.keys(MODELS), ...CRDS].sort());
  });

  it('ServiceMonitor (CRD, not schema-validated) has the expected shape', () => {
    const sm = render({ set: { 'metrics.serviceMonitor.enabled': true } }).find((o) => o.kind === 'ServiceMonitor') as unknown as {
      apiVersion: string;
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string; interval: string }[]; namespaceSelector: { matchNames: string[] } };
    };
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.spec.endpoints).toHaveLength(1);
    expect(sm.spec.endpoints[0]).toMatchObject({ port: 'admin', path: '/metrics', interval: '5s' });
    expect(sm.spec.namespaceSelector.matchNames).toEqual(['ns']);
  });
});
