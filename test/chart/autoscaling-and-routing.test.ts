/**
 * Autoscaling (HPA or KEDA, never both; the Deployment then leaves `replicas` to the autoscaler)
 * and the SSE-safe Ingress / HTTPRoute.
 */
import { describe, expect, it } from 'vitest';
import { find, render, renderError, type K8sObject } from './helm.js';

const DB = { 'postgresql.enabled': true, 'postgresql.auth.password': 'pw' };
const replicas = (objs: K8sObject[]) => (find(objs, 'Deployment') as unknown as { spec: { replicas?: number } }).spec.replicas;

describe('autoscaling', () => {
  it('off by default: the Deployment sets replicas, no HPA, no ScaledObject', () => {
    const objs = render({ set: { ...DB, replicaCount: 3 } });
    expect(replicas(objs)).toBe(3);
    expect(objs.some((o) => o.kind === 'HorizontalPodAutoscaler' || o.kind === 'ScaledObject')).toBe(false);
  });

  it('HPA: CPU and/or active streams per pod, scale-down one pod a minute; no replicas on the Deployment', () => {
    const objs = render({ set: { ...DB, 'autoscaling.enabled': true, 'autoscaling.targetActiveStreamsPerPod': 80 } });
    expect(replicas(objs)).toBeUndefined();
    const hpa = find(objs, 'HorizontalPodAutoscaler') as unknown as {
      spec: {
        minReplicas: number;
        maxReplicas: number;
        metrics: { type: string }[];
        behavior: { scaleDown: { stabilizationWindowSeconds: number; policies: unknown[] } };
        scaleTargetRef: { kind: string; name: string };
      };
    };
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'lc-lastcall' });
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([2, 10]);
    expect(JSON.parse(JSON.stringify(hpa.spec.metrics))).toEqual([
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
      {
        type: 'Pods',
        pods: { metric: { name: 'lastcall_streams_active' }, target: { type: 'AverageValue', averageValue: '80' } },
      },
    ]);
    expect(JSON.parse(JSON.stringify(hpa.spec.behavior.scaleDown))).toEqual({
      stabilizationWindowSeconds: 300,
      policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }],
    });
  });

  it("KEDA: a Prometheus trigger on this release's active streams; no replicas on the Deployment", () => {
    const objs = render({
      set: {
        ...DB,
        'autoscaling.keda.enabled': true,
        'autoscaling.keda.serverAddress': 'http://prom:9090',
        'autoscaling.keda.threshold': 40,
      },
    });
    expect(replicas(objs)).toBeUndefined();
    const so = JSON.parse(JSON.stringify(find(objs, 'ScaledObject'))) as {
      spec: {
        minReplicaCount: number;
        maxReplicaCount: number;
        triggers: { type: string; metricType: string; metadata: Record<string, string> }[];
      };
    };
    expect([so.spec.minReplicaCount, so.spec.maxReplicaCount]).toEqual([2, 10]);
    expect(so.spec.triggers[0]).toEqual({
      type: 'prometheus',
      metricType: 'AverageValue',
      metadata: {
        serverAddress: 'http://prom:9090',
        query: 'sum(lastcall_streams_active{namespace="ns", replica=~"lc-lastcall-[a-z0-9]+-[a-z0-9]+"})',
        threshold: '40',
      },
    });
  });

  it('refuses an HPA and KEDA together, a metric-less HPA, min > max, and autoscaling without a database', () => {
    const err = renderError({
      set: {
        'autoscaling.enabled': true,
        'autoscaling.keda.enabled': true,
        'autoscaling.targetCPUUtilizationPercentage': 'null',
        'autoscaling.minReplicas': 5,
        'autoscaling.maxReplicas': 3,
      },
    });
    expect(err).toMatch(/would fight over the replica count/);
    expect(err).toMatch(/the HPA needs a metric/);
    expect(err).toMatch(/minReplicas \(5\) is above maxReplicas \(3\)/);
    expect(err).toMatch(/maxReplicas 3 needs a shared database/);
    expect(err).toMatch(/autoscaling.keda: serverAddress .* is required/);
    expect(renderError({ set: { ...DB, 'autoscaling.enabled': true, 'resources.requests.cpu': 'null' } })).toMatch(
      /needs resources.requests.cpu/,
    );
  });
});

describe('Ingress and HTTPRoute', () => {
  it('Ingress: ingress-nginx SSE annotations (buffering off, long timeouts); user annotations win', () => {
    const ing = find(
      render({
        set: { 'ingress.enabled': true, 'ingress.className': 'nginx' },
        setJson: { 'ingress.annotations': { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '7200' } },
      }),
      'Ingress',
    ) as unknown as {
      metadata: { annotations: Record<string, string> };
      spec: {
        ingressClassName: string;
        rules: {
          host: string;
          http: { paths: { path: string; backend: { service: { name: string; port: { name: string } } } }[] };
        }[];
      };
    };
    expect(ing.metadata.annotations).toEqual({
      'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
      'nginx.ingress.kubernetes.io/proxy-read-timeout': '7200',
      'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600',
    });
    expect(ing.spec.ingressClassName).toBe('nginx');
    expect(ing.spec.rules[0]!.http.paths[0]!.backend.service).toMatchObject({ name: 'lc-lastcall', port: { name: 'http' } });
    const bare = find(render({ set: { 'ingress.enabled': true, 'ingress.sseAnnotations': false } }), 'Ingress') as unknown as {
      metadata: { annotations?: unknown };
    };
    expect(bare.metadata.annotations).toBeUndefined();
    expect(renderError({ set: { 'ingress.enabled': true, 'ingress.streamTimeoutSeconds': 30 } })).toMatch(
      /streamTimeoutSeconds 30 would cut streams/,
    );
  });

  it('HTTPRoute: parentRefs required, a 1 h request timeout by default, the Service as backend', () => {
    expect(renderError({ set: { 'httpRoute.enabled': true } })).toMatch(/httpRoute: parentRefs is empty/);
    const route = JSON.parse(
      JSON.stringify(
        find(
          render({
            set: { 'httpRoute.enabled': true },
            setJson: { 'httpRoute.parentRefs': [{ name: 'eg' }], 'httpRoute.hostnames': ['a.example.com'] },
          }),
          'HTTPRoute',
        ),
      ),
    ) as {
      spec: {
        parentRefs: unknown[];
        hostnames: string[];
        rules: { backendRefs: unknown[]; timeouts: unknown; filters?: unknown }[];
      };
    };
    expect(route.spec.parentRefs).toEqual([{ name: 'eg' }]);
    expect(route.spec.hostnames).toEqual(['a.example.com']);
    expect(route.spec.rules[0]!.backendRefs).toEqual([{ name: 'lc-lastcall', port: 8080 }]);
    expect(route.spec.rules[0]!.timeouts).toEqual({ request: '1h', backendRequest: '1h' });
    // No retry filter or policy: retries of 503 + Retry-After are the client's.
    expect(route.spec.rules[0]!.filters).toBeUndefined();
    expect(
      renderError({
        set: { 'httpRoute.enabled': true, 'httpRoute.timeouts.request': 'forever' },
        setJson: { 'httpRoute.parentRefs': [{ name: 'eg' }] },
      }),
    ).toMatch(/request/);
  });
});
