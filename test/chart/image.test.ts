/**
 * The Dockerfile keeps the promises the chart relies on (static checks: no Docker engine is
 * needed): node as PID 1 in exec form, uid 1000, malloc tuning, the ports the chart probes, no
 * HEALTHCHECK, and every COPY source present in the build context.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { CI_VALUES, ROOT } from './helm.js';

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
/** Instructions with continuation lines joined and comments dropped. */
const instructions = dockerfile
  .split('\n')
  .filter((l) => !/^\s*#/.test(l))
  .join('\n')
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter(Boolean);
const stages = instructions
  .join('\n')
  .split(/^FROM /m)
  .slice(1)
  .map((s) => `FROM ${s}`.split('\n'));
const runtime = stages.at(-1)!;

describe('Dockerfile', () => {
  it('is multi-stage on node:22-bookworm-slim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/ARG NODE_IMAGE=node:22-bookworm-slim/);
    expect(instructions.join('\n')).toMatch(/ONNXRUNTIME_NODE_INSTALL=skip npm ci/);
    expect(instructions.join('\n')).toMatch(/npm run build\s+&& npm prune --omit=dev/);
  });

  it('runs node directly as PID 1 (exec form), as uid 1000, with no HEALTHCHECK', () => {
    expect(runtime.at(-1)).toBe('CMD ["node", "dist/main.js"]');
    expect(runtime.some((l) => l.startsWith('ENTRYPOINT'))).toBe(false);
    expect(runtime).toContain('USER 1000:1000');
    expect(instructions.some((l) => l.startsWith('HEALTHCHECK'))).toBe(false);
    expect(runtime).toContain('EXPOSE 8080 9090');
  });

  it('tunes malloc so freed model memory returns to the OS', () => {
    const env = runtime.filter((l) => l.startsWith('ENV')).join(' ');
    expect(env).toMatch(/MALLOC_ARENA_MAX=2/);
    expect(env).toMatch(/MALLOC_TRIM_THRESHOLD_=131072/);
  });

  it('copies only paths that exist and that .dockerignore lets through', () => {
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const sources = stages[0]!
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from'))
      .flatMap((l) =>
        l
          .replace(/^COPY\s+(--\S+\s+)*/, '')
          .split(/\s+/)
          .slice(0, -1),
      );
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      const path = src.replace(/\/$/, '');
      expect(existsSync(join(ROOT, path)), `${path} is missing`).toBe(true);
      expect(
        ignore.some((p) => p === path || path.startsWith(`${p}/`)),
        `${path} is in .dockerignore`,
      ).toBe(false);
    }
  });
});

describe('kind cluster', () => {
  it('maps the NodePort the e2e values expose, on 1 control plane + 2 workers of Kubernetes >= 1.30', () => {
    const kind = loadYaml<{ nodes: { role: string; image: string; extraPortMappings?: { containerPort: number }[] }[] }>(
      readFileSync(join(ROOT, 'k8s/kind-config.yaml'), 'utf8'),
    );
    expect(kind.nodes.map((n) => n.role)).toEqual(['control-plane', 'worker', 'worker']);
    for (const n of kind.nodes) {
      const [, minor] = /kindest\/node:v1\.(\d+)\./.exec(n.image) ?? [];
      expect(Number(minor)).toBeGreaterThanOrEqual(30);
    }
    const values = loadYaml<{ service: { nodePort: number } }>(
      readFileSync(CI_VALUES.find(([s]) => s === 'e2e-kind')![1], 'utf8'),
    );
    expect(kind.nodes[0]!.extraPortMappings?.map((m) => m.containerPort)).toContain(values.service.nodePort);
    const makefile = readFileSync(join(ROOT, 'Makefile'), 'utf8');
    const version = /^KIND_K8S_VERSION\s*:=\s*(\S+)/m.exec(makefile)?.[1];
    for (const n of kind.nodes) expect(n.image).toContain(`kindest/node:v${version}@sha256:`);
  });
});
