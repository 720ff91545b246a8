/**
 * Values: helm lint --strict with every scenario, a strict schema, every key documented, and
 * bad combinations rejected with every problem named at once.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  CHART,
  CI_VALUES,
  envMap,
  envValue,
  find,
  podSpec,
  render,
  renderError,
  runHelm,
  type Container,
  type K8sObject,
} from './helm.js';

const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as Schema;
const valuesText = readFileSync(join(CHART, 'values.yaml'), 'utf8');
const values = loadYaml<Record<string, unknown>>(valuesText);

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  items?: Schema;
  oneOf?: Schema[];
  description?: string;
}

function container(objs: K8sObject[]): Container {
  return podSpec(find(objs, 'Deployment')).containers[0]!;
}

describe('helm lint --strict', () => {
  it('has the scenarios the e2e drivers and CI use', () => {
    expect(CI_VALUES.map(([s]) => s)).toEqual(
      expect.arrayContaining(['default', 'bundled-postgres', 'external-db', 'e2e-kind', 'e2e-local']),
    );
  });

  for (const [scenario, file] of CI_VALUES) {
    it(`passes with ci/${scenario}-values.yaml`, () => {
      const r = runHelm(['lint', '--strict', CHART, '-f', file]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      // helm 4's lint downgrades template `fail` to a log line: treat it as a failure here.
      expect(r.stderr + r.stdout).not.toMatch(/funcMap fail|invalid values/);
      // ...and the same values must actually render.
      expect(() => render({ files: [file] })).not.toThrow();
    });
  }

  it('NOTES.txt renders for every scenario and says how to reach the service', () => {
    for (const [scenario, file] of CI_VALUES) {
      const r = runHelm(['install', 'demo', CHART, '--dry-run=client', '--namespace', 'demo', '-f', file]);
      expect(r.status, `${scenario}: ${r.stderr}`).toBe(0);
      const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'));
      expect(notes, scenario).toMatch(/Reach the API:/);
      expect(notes, scenario).toMatch(/http:\/\/demo-lastcall\.demo\.svc:8080/);
      expect(notes, scenario).toMatch(/Shutdown: grace \d+ s = preStop sleep \d+ s \+ drain budget \d+ s/);
    }
  });

  it('e2e-kind and e2e-local use the same timings', () => {
    const read = (s: string) =>
      loadYaml<{ shutdown: unknown; config: unknown }>(readFileSync(CI_VALUES.find(([n]) => n === s)![1], 'utf8'));
    const kind = read('e2e-kind');
    const local = read('e2e-local');
    expect(local.shutdown).toEqual(kind.shutdown);
    expect(local.config).toEqual(kind.config);
  });
});

describe('values.schema.json is strict', () => {
  it('closes every object: additionalProperties false, or a typed map', () => {
    const open: string[] = [];
    const walk = (s: Schema, path: string) => {
      if (s.type === 'object' && s.properties) {
        if (s.additionalProperties !== false) open.push(path);
        for (const [k, v] of Object.entries(s.properties)) walk(v, `${path}.${k}`);
      }
      if (s.items) walk(s.items, `${path}[]`);
      for (const o of s.oneOf ?? []) walk(o, path);
    };
    walk(schema, '$');
    expect(open).toEqual([]);
    expect(schema.additionalProperties).toBe(false);
  });

  it('describes every key of values.yaml and nothing else', () => {
    const missing: string[] = [];
    const walk = (v: unknown, s: Schema | undefined, path: string) => {
      if (!s) {
        missing.push(path);
        return;
      }
      if (v && typeof v === 'object' && !Array.isArray(v) && s.properties) {
        for (const [k, child] of Object.entries(v)) walk(child, s.properties[k], path ? `${path}.${k}` : k);
      }
    };
    walk(values, schema, '');
    expect(missing).toEqual([]);
  });

  it('rejects unknown keys, at the top and nested', () => {
    expect(renderError({ set: { replicas: 2 } })).toMatch(/additional properties 'replicas' not allowed/);
    expect(renderError({ set: { 'shutdown.gracePeriod': 30 } })).toMatch(/additional properties 'gracePeriod' not allowed/);
    expect(renderError({ set: { 'postgresql.auth.user': 'x' } })).toMatch(/additional properties 'user' not allowed/);
  });

  it('rejects wrong types and enums', () => {
    expect(renderError({ set: { 'image.pullPolicy': 'Sometimes' } })).toMatch(/pullPolicy/);
    expect(renderError({ set: { 'config.logLevel': 'loud' } })).toMatch(/logLevel/);
    expect(renderError({ set: { spreadAcrossNodes: 'maybe' } })).toMatch(/spreadAcrossNodes/);
  });
});

describe('values.yaml documents every key', () => {
  it('starts with the $schema modeline', () => {
    expect(valuesText.split('\n')[0]).toBe('# yaml-language-server: $schema=values.schema.json');
  });

  it('has a ## @param line for every leaf (or map/list) key', () => {
    const documented = new Set([...valuesText.matchAll(/^\s*## @param (\S+) \S/gm)].map((m) => m[1]));
    const keys: string[] = [];
    const walk = (v: unknown, path: string) => {
      // Objects whose schema is a free map or a passed-through Kubernetes object are documented
      // as one key (e.g. resources, podSecurityContext, commonLabels).
      const isBranch = v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0;
      if (isBranch && !documented.has(path)) {
        for (const [k, child] of Object.entries(v)) walk(child, path ? `${path}.${k}` : k);
      } else {
        keys.push(path);
      }
    };
    walk(values, '');
    expect(keys.filter((k) => !documented.has(k))).toEqual([]);
    // And no stale @param for a key that no longer exists.
    const stale = [...documented].filter((p) => {
      let cur: unknown = values;
      for (const part of p!.split('.')) {
        if (!cur || typeof cur !== 'object' || !(part in cur)) return true;
        cur = (cur as Record<string, unknown>)[part];
      }
      return false;
    });
    expect(stale).toEqual([]);
  });
});

describe('validateValues', () => {
  it('rejects more than one replica on the embedded database', () => {
    expect(renderError({ set: { replicaCount: 2 } })).toMatch(/replicaCount: 2 replicas need a shared database/);
  });

  it('allows more than one replica with any database', () => {
    const sets: Record<string, string | number | boolean>[] = [
      { replicaCount: 3, 'postgresql.enabled': true, 'postgresql.auth.password': 'p' },
      { replicaCount: 3, 'database.url': 'postgresql://u:p@db:5432/lastcall' },
      { replicaCount: 3, 'database.existingSecret': 'db' },
    ];
    for (const set of sets) {
      expect(() => render({ set })).not.toThrow();
    }
  });

  it('collects every problem and fails once', () => {
    const err = renderError({
      set: {
        replicaCount: 2,
        'shutdown.preStopSleepSeconds': 29,
        'database.url': 'postgresql://u:p@db/x',
        'database.existingSecret': 'db',
        'secret.existingSecret': 'keys',
        'secret.openaiApiKey': 'sk-x',
        'updateStrategy.maxSurge': 0,
        'ports.admin': 8080,
      },
    });
    expect(err.match(/invalid values \((\d+) problem/)?.[1]).toBe('5');
    expect(err).toMatch(/leaves no drain budget/);
    expect(err).toMatch(
      /choose one of postgresql.enabled, database.url and database.existingSecret \(got database.url, database.existingSecret\)/,
    );
    expect(err).toMatch(/secret.existingSecret is set/);
    expect(err).toMatch(/maxSurge and maxUnavailable cannot both be 0/);
    expect(err).toMatch(/ports: http and admin must differ/);
    expect(err.match(/lastcall: invalid values/g)).toHaveLength(1);
  });

  it('rejects extraEnv that would override what the chart sets', () => {
    expect(renderError({ setJson: { extraEnv: [{ name: 'TERMINATION_GRACE_PERIOD_SECONDS', value: '60' }] } })).toMatch(
      /extraEnv: TERMINATION_GRACE_PERIOD_SECONDS is set by the chart/,
    );
  });
});

describe('rendered configuration', () => {
  it('defaults (with auth.allowAnonymous): embedded PGlite in an emptyDir, open API, no Secret', () => {
    const objs = render();
    const c = container(objs);
    expect(envValue(c, 'DATA_DIR')).toBe('/var/lib/lastcall');
    expect(envMap(c).has('DATABASE_URL')).toBe(false);
    expect(envMap(c).has('API_KEYS')).toBe(false);
    expect(objs.some((o) => o.kind === 'Secret')).toBe(false);
    expect(objs.some((o) => o.kind === 'StatefulSet')).toBe(false);
    const pod = podSpec(find(objs, 'Deployment'));
    expect(pod.volumes?.map((v) => v.name).sort()).toEqual(['data', 'tmp']);
    expect(c.volumeMounts).toEqual([
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'data', mountPath: '/var/lib/lastcall' },
    ]);
  });

  it('REPLICA_ID is the pod name, ports and probes are on the admin port', () => {
    const c = container(render());
    expect(envMap(c).get('REPLICA_ID')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(envValue(c, 'PORT')).toBe('8080');
    expect(envValue(c, 'ADMIN_PORT')).toBe('9090');
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/livez', port: 'admin' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(c.startupProbe?.httpGet).toEqual({ path: '/startupz', port: 'admin' });
    expect(c.ports).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'admin', containerPort: 9090, protocol: 'TCP' },
    ]);
  });

  it('readiness period and threshold come from values', () => {
    const c = container(render({ set: { 'probes.readiness.periodSeconds': 3, 'probes.readiness.failureThreshold': 2 } }));
    expect(c.readinessProbe?.periodSeconds).toBe(3);
    expect(c.readinessProbe?.failureThreshold).toBe(2);
  });

  it('rolling update: maxUnavailable 0 by default, both from values', () => {
    const dep = find(render(), 'Deployment') as unknown as { spec: { strategy: unknown } };
    expect(dep.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    const dep2 = find(
      render({ set: { 'updateStrategy.maxSurge': '50%', 'updateStrategy.maxUnavailable': 1 } }),
      'Deployment',
    ) as unknown as {
      spec: { strategy: { rollingUpdate: unknown } };
    };
    expect(dep2.spec.strategy.rollingUpdate).toEqual({ maxSurge: '50%', maxUnavailable: 1 });
  });

  it('hardened: non-root uid 1000, read-only root, no capabilities, RuntimeDefault seccomp', () => {
    const objs = render();
    const pod = podSpec(find(objs, 'Deployment'));
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.containers[0]!.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
  });

  it('bundled PostgreSQL: StatefulSet on pgvector/pgvector:pg16 and DATABASE_URL pointing at it', () => {
    const objs = render({ set: { 'postgresql.enabled': true, 'postgresql.auth.password': 'pw' } });
    const sts = find(objs, 'StatefulSet', '-postgresql') as unknown as {
      spec: { template: { spec: { containers: Container[] } } };
    };
    expect(sts.spec.template.spec.containers[0]!.image).toBe('pgvector/pgvector:pg16');
    const c = container(objs);
    expect(envValue(c, 'DATABASE_URL')).toBe('postgresql://lastcall:$(PGPASSWORD)@lc-lastcall-postgresql:5432/lastcall');
    // $(PGPASSWORD) is expanded by the kubelet only if PGPASSWORD is defined earlier.
    const names = (c.env ?? []).map((e) => e.name);
    expect(names.indexOf('PGPASSWORD')).toBeLessThan(names.indexOf('DATABASE_URL'));
    expect(envMap(c).get('PGPASSWORD')?.valueFrom?.secretKeyRef).toEqual({
      name: 'lc-lastcall-postgresql',
      key: 'postgres-password',
    });
    const secret = find(objs, 'Secret', '-postgresql') as unknown as { data: Record<string, string> };
    expect(Buffer.from(secret.data['postgres-password']!, 'base64').toString()).toBe('pw');
    expect(envMap(c).has('DATA_DIR')).toBe(false);
    expect(podSpec(find(objs, 'Deployment')).volumes?.map((v) => v.name)).toEqual(['tmp']);
  });

  it('image digests win over tags, for lastcall and the bundled PostgreSQL', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const objs = render({
      set: {
        'image.digest': digest,
        'postgresql.enabled': true,
        'postgresql.auth.password': 'pw',
        'postgresql.image.digest': digest,
      },
    });
    expect(container(objs).image).toBe(`ghcr.io/lastcall/lastcall@${digest}`);
    const sts = find(objs, 'StatefulSet', '-postgresql') as unknown as {
      spec: { template: { spec: { containers: Container[] } } };
    };
    expect(sts.spec.template.spec.containers[0]!.image).toBe(`pgvector/pgvector@${digest}`);
    expect(renderError({ set: { 'postgresql.image.digest': 'sha256:nope' } })).toMatch(/digest/);
  });

  it('external database: URL in the chart Secret, or from an existing Secret', () => {
    let objs = render({ set: { 'database.url': 'postgresql://u:p@db:5432/x' } });
    expect(envMap(container(objs)).get('DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({
      name: 'lc-lastcall',
      key: 'DATABASE_URL',
    });
    const secret = find(objs, 'Secret') as unknown as { data: Record<string, string> };
    expect(Buffer.from(secret.data.DATABASE_URL!, 'base64').toString()).toBe('postgresql://u:p@db:5432/x');
    objs = render({ set: { 'database.existingSecret': 'db', 'database.existingSecretKey': 'uri' } });
    expect(envMap(container(objs)).get('DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'db', key: 'uri' });
  });

  it('API keys: joined with commas in the chart Secret, or optional keys of an existing Secret', () => {
    let objs = render({ setJson: { 'secret.apiKeys': ['k1', 'k2'] }, set: { 'secret.openaiApiKey': 'sk' } });
    const secret = find(objs, 'Secret') as unknown as { data: Record<string, string> };
    expect(Buffer.from(secret.data.API_KEYS!, 'base64').toString()).toBe('k1,k2');
    expect(Buffer.from(secret.data.OPENAI_API_KEY!, 'base64').toString()).toBe('sk');
    objs = render({ set: { 'secret.existingSecret': 'keys' } });
    const env = envMap(container(objs));
    // Fail closed: without auth.allowAnonymous a Secret lacking API_KEYS keeps the pod from starting.
    expect(env.get('API_KEYS')?.valueFrom?.secretKeyRef).toEqual({ name: 'keys', key: 'API_KEYS', optional: false });
    expect(env.get('OPENAI_API_KEY')?.valueFrom?.secretKeyRef).toEqual({ name: 'keys', key: 'OPENAI_API_KEY', optional: true });
    // The helm test pod gets the same key so the smoke test can authenticate.
    const smoke = find(objs, 'Pod', '-smoke') as unknown as { spec: { containers: Container[] } };
    expect(envMap(smoke.spec.containers[0]!).get('API_KEYS')?.valueFrom?.secretKeyRef?.name).toBe('keys');
  });

  it('helm test pod runs the smoke command against the Service', () => {
    const pod = find(render(), 'Pod', '-smoke') as unknown as {
      metadata: { annotations: Record<string, string> };
      spec: { containers: Container[] };
    };
    expect(pod.metadata.annotations['helm.sh/hook']).toBe('test');
    expect(pod.spec.containers[0]!.command).toEqual(['node', 'dist/tools/smoke.js', '--url', 'http://lc-lastcall.ns.svc:8080']);
  });

  it('names stay within 63 characters', () => {
    const set = {
      'postgresql.enabled': true,
      'postgresql.auth.password': 'p',
      'metrics.serviceMonitor.enabled': true,
      'networkPolicy.enabled': true,
      'networkPolicy.allowApiFromAnywhere': true,
      'metrics.prometheusRule.enabled': true,
    };
    const longRelease = 'a-very-long-release-name-that-goes-on-and-on-for-eve'; // helm's limit: 53
    for (const objs of [render({ release: longRelease, set }), render({ set: { ...set, fullnameOverride: 'x'.repeat(63) } })]) {
      for (const o of objs) {
        expect(o.metadata.name.length, o.metadata.name).toBeLessThanOrEqual(63);
        expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      }
      const names = objs.map((o) => `${o.kind}/${o.metadata.name}`);
      expect(new Set(names).size).toBe(names.length);
    }
  });

  it('ServiceMonitor scrapes the admin port through a Service that keeps draining pods', () => {
    const objs = render({ set: { 'metrics.serviceMonitor.enabled': true } });
    const sm = find(objs, 'ServiceMonitor') as unknown as {
      spec: { endpoints: { port: string; path: string }[]; selector: { matchLabels: Record<string, string> } };
    };
    expect(sm.spec.endpoints[0]).toMatchObject({ port: 'admin', path: '/metrics' });
    const svc = find(objs, 'Service', '-metrics') as unknown as {
      metadata: { labels: Record<string, string> };
      spec: { publishNotReadyAddresses: boolean; ports: { name: string; port: number }[] };
    };
    expect(svc.spec.publishNotReadyAddresses).toBe(true);
    expect(svc.spec.ports).toEqual([{ name: 'admin', port: 9090, targetPort: 'admin', protocol: 'TCP' }]);
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) expect(svc.metadata.labels[k]).toBe(v);
    const api = find(objs, 'Service', 'lc-lastcall') as unknown as { metadata: { labels: Record<string, string> } };
    expect(api.metadata.labels['lastcall.dev/metrics']).toBeUndefined();
  });

  it('dashboard ConfigMap carries the generated JSON and the grafana_dashboard label, and can be turned off', () => {
    const cm = find(render(), 'ConfigMap', '-dashboard') as unknown as {
      metadata: { labels: Record<string, string> };
      data: Record<string, string>;
    };
    expect(cm.metadata.labels.grafana_dashboard).toBe('1');
    expect((JSON.parse(cm.data['lastcall.json']!) as { uid: string }).uid).toBe('lastcall-drain');
    expect(render({ set: { 'dashboards.enabled': false } }).some((o) => o.metadata.name.endsWith('-dashboard'))).toBe(false);
  });
});
