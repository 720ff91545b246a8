/**
 * Shared helpers for the chart tests: the pinned helm binary (scripts/tools/helm.sh), rendering
 * with values, and finding objects in the output.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAllYaml } from '@kubernetes/client-node';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART = join(ROOT, 'helm/lastcall');
export const CI_DIR = join(CHART, 'ci');

/** Every `ci/<scenario>-values.yaml`, as [scenario, absolute path]. */
export const CI_VALUES: [string, string][] = readdirSync(CI_DIR)
  .filter((f) => f.endsWith('-values.yaml'))
  .sort()
  .map((f) => [f.replace(/-values\.yaml$/, ''), join(CI_DIR, f)]);

let helmPath: string | undefined;
/** Path of the pinned helm (fetched and sha256-verified on first use). */
export function helm(): string {
  helmPath ??= execFileSync(join(ROOT, 'scripts/tools/helm.sh'), ['--path'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return helmPath;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function runHelm(args: string[]): RunResult {
  const r = spawnSync(helm(), args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export interface RenderOptions {
  /** Extra values files. */
  files?: string[];
  /** `--set` pairs (typed with --set, so numbers stay numbers). */
  set?: Record<string, string | number | boolean>;
  /** `--set-json` pairs. */
  setJson?: Record<string, unknown>;
  kubeVersion?: string;
  release?: string;
  namespace?: string;
  /**
   * The chart fails closed: it refuses to render without API keys unless auth.allowAnonymous.
   * Renders with no values file that mention neither add `auth.allowAnonymous=true`, so tests
   * about something else render an open API on purpose; `strictAuth: true` turns that off.
   */
  strictAuth?: boolean;
}

const AUTH_KEYS = ['secret.apiKeys', 'secret.existingSecret', 'auth.allowAnonymous'];

export function templateArgs(o: RenderOptions = {}): string[] {
  const args = [
    'template',
    o.release ?? 'lc',
    CHART,
    '--namespace',
    o.namespace ?? 'ns',
    '--kube-version',
    o.kubeVersion ?? '1.31.0',
  ];
  for (const f of o.files ?? []) args.push('-f', f);
  const mentioned = [...Object.keys(o.set ?? {}), ...Object.keys(o.setJson ?? {})];
  if (!o.strictAuth && !o.files?.length && !mentioned.some((k) => AUTH_KEYS.includes(k)))
    args.push('--set', 'auth.allowAnonymous=true');
  for (const [k, v] of Object.entries(o.set ?? {})) args.push('--set', `${k}=${v}`);
  for (const [k, v] of Object.entries(o.setJson ?? {})) args.push('--set-json', `${k}=${JSON.stringify(v)}`);
  return args;
}

/** `helm template`; throws with helm's stderr if it fails. */
export function render(o: RenderOptions = {}): K8sObject[] {
  const r = runHelm(templateArgs(o));
  if (r.status !== 0) throw new Error(`helm template failed:\n${r.stderr}`);
  return parseManifests(r.stdout);
}

/** `helm template` expected to fail; returns stderr. */
export function renderError(o: RenderOptions = {}): string {
  const r = runHelm(templateArgs(o));
  if (r.status === 0) throw new Error('helm template succeeded but was expected to fail');
  return r.stderr;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

export function parseManifests(yaml: string): K8sObject[] {
  return (loadAllYaml(yaml) as unknown[]).filter((o): o is K8sObject => o !== null && typeof o === 'object');
}

export function find(objs: K8sObject[], kind: string, nameSuffix = ''): K8sObject {
  const hits = objs.filter((o) => o.kind === kind && o.metadata.name.endsWith(nameSuffix));
  if (hits.length !== 1) {
    throw new Error(`expected one ${kind}*${nameSuffix}, got ${hits.map((h) => h.metadata.name).join(', ') || 'none'}`);
  }
  return hits[0]!;
}

// Minimal typed views of what the tests read.
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; fieldRef?: { fieldPath: string } };
}
export interface Container {
  name: string;
  image: string;
  command?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string } }[];
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: { command: string[] } } };
  readinessProbe?: { httpGet: { path: string; port: string | number }; periodSeconds: number; failureThreshold: number };
  livenessProbe?: { httpGet: { path: string; port: string | number } };
  startupProbe?: { httpGet: { path: string; port: string | number } };
  ports?: { name: string; containerPort: number }[];
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
}
export interface PodSpec {
  terminationGracePeriodSeconds?: number;
  containers: Container[];
  securityContext?: Record<string, unknown>;
  volumes?: { name: string; emptyDir?: Record<string, unknown> }[];
}

export function podSpec(deployment: K8sObject): PodSpec {
  return (deployment as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
}

export function envMap(c: Container): Map<string, EnvVar> {
  return new Map((c.env ?? []).map((e) => [e.name, e]));
}

export function envValue(c: Container, name: string): string | undefined {
  return envMap(c).get(name)?.value;
}
