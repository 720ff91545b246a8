import type { V1ConfigMap, V1Container, V1Deployment, V1Probe, V1Secret } from '@kubernetes/client-node';
import type { Timings } from '../scenario/driver.js';

/**
 * Reads what the e2e needs out of a Deployment as Kubernetes holds it (rendered by the chart or
 * fetched from a cluster), so that neither driver keeps a second copy of the chart's numbers.
 */
export interface ProbeSpec {
  readonly path: string;
  readonly periodMs: number;
  readonly timeoutMs: number;
  readonly failureThreshold: number;
  readonly successThreshold: number;
}

export interface RolloutSpec {
  readonly replicas: number;
  readonly maxSurge: number;
  readonly maxUnavailable: number;
  readonly graceSeconds: number;
  readonly preStopSeconds: number;
  readonly readiness: ProbeSpec;
}

export function serverContainer(dep: V1Deployment): V1Container {
  const c = dep.spec?.template.spec?.containers.find((x) => x.name === 'lastcall') ?? dep.spec?.template.spec?.containers[0];
  if (!c) throw new Error(`deployment ${dep.metadata?.name} has no container`);
  return c;
}

/** maxSurge rounds up and maxUnavailable down, as the deployment controller does. */
export function intOrPercent(v: number | string | undefined, of: number, round: 'up' | 'down', fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) return Number(v);
  const x = (Number(m[1]) / 100) * of;
  return round === 'up' ? Math.ceil(x) : Math.floor(x);
}

function probe(p: V1Probe | undefined, what: string): ProbeSpec {
  if (!p?.httpGet) throw new Error(`the chart renders no httpGet ${what} probe`);
  return {
    path: p.httpGet.path ?? '/',
    periodMs: (p.periodSeconds ?? 10) * 1000,
    timeoutMs: (p.timeoutSeconds ?? 1) * 1000,
    failureThreshold: p.failureThreshold ?? 3,
    successThreshold: p.successThreshold ?? 1,
  };
}

export function rolloutSpec(dep: V1Deployment): RolloutSpec {
  const replicas = dep.spec?.replicas ?? 1;
  const ru = dep.spec?.strategy?.rollingUpdate;
  const c = serverContainer(dep);
  const preStop = c.lifecycle?.preStop;
  const preStopSeconds = preStop?.sleep?.seconds ?? Number(preStop?.exec?.command?.at(-1) ?? 0);
  return {
    replicas,
    maxSurge: intOrPercent(ru?.maxSurge, replicas, 'up', 1),
    maxUnavailable: intOrPercent(ru?.maxUnavailable, replicas, 'down', 0),
    graceSeconds: dep.spec?.template.spec?.terminationGracePeriodSeconds ?? 30,
    preStopSeconds,
    readiness: probe(c.readinessProbe, 'readiness'),
  };
}

export interface EnvSources {
  readonly podName: string;
  readonly configMaps: readonly V1ConfigMap[];
  readonly secrets: readonly V1Secret[];
}

/** The container's environment as the kubelet builds it: envFrom first, then env with $(VAR) expansion. */
export function containerEnv(c: V1Container, src: EnvSources): Record<string, string> {
  const env: Record<string, string> = {};
  const cm = (name: string) => src.configMaps.find((x) => x.metadata?.name === name)?.data ?? {};
  const secret = (name: string): Record<string, string> => {
    const s = src.secrets.find((x) => x.metadata?.name === name);
    const out: Record<string, string> = { ...(s?.stringData ?? {}) };
    for (const [k, v] of Object.entries(s?.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
    return out;
  };
  for (const from of c.envFrom ?? []) {
    const data = from.configMapRef ? cm(from.configMapRef.name ?? '') : from.secretRef ? secret(from.secretRef.name ?? '') : {};
    for (const [k, v] of Object.entries(data)) env[`${from.prefix ?? ''}${k}`] = v;
  }
  for (const e of c.env ?? []) {
    let value: string | undefined;
    if (e.value !== undefined) value = e.value.replace(/\$\((\w+)\)/g, (m, name: string) => env[name] ?? m);
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') value = src.podName;
    else if (e.valueFrom?.secretKeyRef) value = secret(e.valueFrom.secretKeyRef.name ?? '')[e.valueFrom.secretKeyRef.key];
    else if (e.valueFrom?.configMapKeyRef) value = cm(e.valueFrom.configMapKeyRef.name ?? '')[e.valueFrom.configMapKeyRef.key];
    if (value !== undefined) env[e.name] = value;
  }
  return env;
}

/** The scenario's timings from the Deployment and its container's resolved env. */
export function timingsOf(spec: RolloutSpec, env: Record<string, string>): Timings {
  const margin = Number(env.SHUTDOWN_SAFETY_MARGIN_SECONDS ?? 2);
  return {
    graceSeconds: spec.graceSeconds,
    preStopSeconds: spec.preStopSeconds,
    safetyMarginSeconds: margin,
    drainBudgetSeconds: spec.graceSeconds - spec.preStopSeconds - margin,
    tokensPerSecond: Number(env.DEV_UPSTREAM_TOKENS_PER_SECOND ?? 50),
    taskLeaseSeconds: Number(env.TASK_LEASE_SECONDS ?? 15),
    replicas: spec.replicas,
  };
}
