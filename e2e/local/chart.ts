import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadAllYaml, type KubernetesObject, type V1ConfigMap, type V1Deployment, type V1Secret } from '@kubernetes/client-node';
import { ROOT } from '../../testkit/service.js';

const run = promisify(execFile);

export const LOCAL_VALUES = 'helm/lastcall/ci/e2e-local-values.yaml';

export interface RenderedChart {
  readonly deployment: V1Deployment;
  readonly configMaps: V1ConfigMap[];
  readonly secrets: V1Secret[];
}

/**
 * `helm template` of the chart with the local e2e values, plus what only the harness knows (the
 * database and upstream it started), so the pods get exactly the env, probes, grace period and
 * preStop the chart renders for a cluster.
 */
export async function renderChart(set: Record<string, string | number>): Promise<RenderedChart> {
  const args = ['template', 'lastcall', 'helm/lastcall', '-f', LOCAL_VALUES];
  for (const [k, v] of Object.entries(set)) args.push(typeof v === 'number' ? '--set' : '--set-string', `${k}=${v}`);
  const { stdout } = await run(path.join(ROOT, 'scripts/tools/helm.sh'), args, { cwd: ROOT, maxBuffer: 32 * 1024 * 1024 });
  const parsed = loadAllYaml(stdout) as unknown[] as (KubernetesObject | null)[];
  const docs = parsed.filter((d): d is KubernetesObject => !!d);
  const deployment = docs.find((d): d is V1Deployment => d.kind === 'Deployment');
  if (!deployment) throw new Error(`helm template with ${LOCAL_VALUES} rendered no Deployment`);
  return {
    deployment,
    configMaps: docs.filter((d) => d.kind === 'ConfigMap'),
    secrets: docs.filter((d) => d.kind === 'Secret'),
  };
}
