/**
 * NetworkPolicy: default-deny ingress and egress for lastcall pods, with only the peers the
 * values list; allow-all on the public port is an explicit choice; egress exists only for what
 * the release uses (DNS, the database, the upstream LLM, the OTLP collector).
 */
import { describe, expect, it } from 'vitest';
import { find, render, renderError, type K8sObject } from './helm.js';

interface Rule {
  ports: { port: string | number; protocol: string }[];
  from?: Record<string, unknown>[];
  to?: Record<string, unknown>[];
}
interface Policy {
  spec: { policyTypes: string[]; ingress: Rule[]; egress: Rule[] };
}
const policy = (objs: K8sObject[]) => find(objs, 'NetworkPolicy', 'lc-lastcall') as unknown as Policy;
/** @kubernetes/client-node's typed models name the `from` field `_from`. */
const from = (r: Rule | undefined) => (r as { _from?: unknown } | undefined)?._from ?? r?.from;
const plain = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;
const API_FROM = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }];
const on = { 'networkPolicy.enabled': true };

describe('NetworkPolicy', () => {
  it('is default-deny both ways: the public port from apiFrom (+ the helm test pod), nothing else', () => {
    const p = policy(render({ set: on, setJson: { 'networkPolicy.apiFrom': API_FROM } }));
    expect(p.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(p.spec.ingress).toHaveLength(1);
    expect(p.spec.ingress[0]!.ports).toEqual([{ port: 'http', protocol: 'TCP' }]);
    const peers = plain(from(p.spec.ingress[0])) as Record<string, unknown>[];
    expect(peers[0]).toEqual(API_FROM[0]);
    expect(peers[1]).toMatchObject({ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'test' } } });
    // Defaults (embedded database, built-in upstream, no tracing): DNS is the only egress.
    expect(p.spec.egress).toHaveLength(1);
    expect(p.spec.egress[0]!.ports.map((x) => `${x.port}/${x.protocol}`)).toEqual(['53/UDP', '53/TCP']);
  });

  it('an empty apiFrom refuses to render; everyone is the explicit allowApiFromAnywhere', () => {
    expect(renderError({ set: on })).toMatch(/networkPolicy: apiFrom is empty, so nothing could reach the API/);
    const p = policy(render({ set: { ...on, 'networkPolicy.allowApiFromAnywhere': true } }));
    expect(from(p.spec.ingress[0])).toBeUndefined();
    expect(
      renderError({ set: { ...on, 'networkPolicy.allowApiFromAnywhere': true }, setJson: { 'networkPolicy.apiFrom': API_FROM } }),
    ).toMatch(/contradict each other/);
  });

  it('the admin port is open only to metricsFrom', () => {
    const mon = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }];
    const p = policy(render({ set: on, setJson: { 'networkPolicy.apiFrom': API_FROM, 'networkPolicy.metricsFrom': mon } }));
    expect(plain(p.spec.ingress[1]!.ports)).toEqual([{ port: 'admin', protocol: 'TCP' }]);
    expect(plain(from(p.spec.ingress[1]))).toEqual(mon);
  });

  it('egress to the bundled PostgreSQL by pod selector', () => {
    const p = policy(
      render({
        set: { ...on, 'postgresql.enabled': true, 'postgresql.auth.password': 'p' },
        setJson: { 'networkPolicy.apiFrom': API_FROM },
      }),
    );
    expect(p.spec.egress[1]).toMatchObject({
      to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'postgresql' } } }],
      ports: [{ port: 5432, protocol: 'TCP' }],
    });
  });

  it('egress to an external database, the upstream and the collector: required when used, ports from their URLs', () => {
    const base = {
      ...on,
      'database.url': 'postgresql://u:p@db.internal:6432/x',
      'config.openaiBaseUrl': 'https://llm.example.com/v1',
      'tracing.otlpEndpoint': 'http://otel.observability:4318',
    };
    const err = renderError({ set: base, setJson: { 'networkPolicy.apiFrom': API_FROM } });
    expect(err).toMatch(/networkPolicy.egress.database.to is empty/);
    expect(err).toMatch(/networkPolicy.egress.upstream.to is empty/);
    expect(err).toMatch(/networkPolicy.egress.otlp.to is empty/);
    const peer = (cidr: string) => [{ ipBlock: { cidr } }];
    const p = policy(
      render({
        set: base,
        setJson: {
          'networkPolicy.apiFrom': API_FROM,
          'networkPolicy.egress.database.to': peer('10.0.0.5/32'),
          'networkPolicy.egress.upstream.to': peer('0.0.0.0/0'),
          'networkPolicy.egress.otlp.to': [
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } } },
          ],
        },
      }),
    );
    expect(p.spec.egress.slice(1).map((r) => r.ports.map((x) => x.port))).toEqual([[6432], [443], [4318]]);
    // Explicit ports win over the URL's.
    const q = policy(
      render({
        set: { ...on, 'database.existingSecret': 'db' },
        setJson: {
          'networkPolicy.apiFrom': API_FROM,
          'networkPolicy.egress.database.to': peer('10.0.0.0/24'),
          'networkPolicy.egress.database.ports': [5432, 5433],
        },
      }),
    );
    expect(q.spec.egress[1]!.ports.map((x) => x.port)).toEqual([5432, 5433]);
  });
});
