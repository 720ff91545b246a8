import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type V1Deployment,
  type V1Pod,
} from '@kubernetes/client-node';
import { ROOT } from '../../testkit/service.js';
import { writeReport } from '../report/write.js';
import { callApi } from '../scenario/api.js';
import type { Driver, PodView, Termination, Timings, TimelineEvent } from '../scenario/driver.js';
import { runScenario } from '../scenario/rolling-restart.js';
import { containerEnv, rolloutSpec, serverContainer, timingsOf } from '../support/deployment.js';

/**
 * `npm run e2e:kind` (make e2e-kind): the same scenario against a kind cluster where
 * `make kind-up image deploy` installed the chart with ci/e2e-kind-values.yaml. The Service is a
 * NodePort mapped to the host by k8s/kind-config.yaml's extraPortMappings.
 *
 * Env: KUBE_CONTEXT (kind-lastcall), NAMESPACE (lastcall), RELEASE (lastcall), E2E_SERVICE_URL
 * (http://127.0.0.1:<the Service's nodePort>), E2E_API_KEY, E2E_PROMETHEUS_URL (a Prometheus
 * scraping the pods, optional), and the scenario's E2E_STREAMS, E2E_TASKS, E2E_RESTARTS, E2E_ONLY.
 */
export const REPORT_DIR = path.join(ROOT, 'reports/e2e-kind');
const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

export class KindDriver implements Driver {
  readonly name = 'kind' as const;
  readonly prometheusUrl = process.env.E2E_PROMETHEUS_URL || undefined;
  readonly apiKey = process.env.E2E_API_KEY || undefined;
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly events: TimelineEvent[] = [];
  private readonly ended = new Map<string, Termination>();
  private readonly seen = new Map<string, V1Pod>();
  private readonly killed = new Set<string>();
  private watch: AbortController | undefined;

  private constructor(
    private readonly kc: KubeConfig,
    private readonly namespace: string,
    private readonly release: string,
    readonly serviceUrl: string,
    readonly timings: Timings,
    private readonly selector: string,
  ) {
    this.apps = kc.makeApiClient(AppsV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  static async connect(): Promise<KindDriver> {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    kc.setCurrentContext(process.env.KUBE_CONTEXT ?? 'kind-lastcall');
    const namespace = process.env.NAMESPACE ?? 'lastcall';
    const release = process.env.RELEASE ?? 'lastcall';
    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const dep = await apps.readNamespacedDeployment({ name: release, namespace });
    const container = serverContainer(dep);
    const configMaps = await Promise.all(
      (container.envFrom ?? []).flatMap((f) =>
        f.configMapRef?.name ? [core.readNamespacedConfigMap({ name: f.configMapRef.name, namespace })] : [],
      ),
    );
    const timings = timingsOf(rolloutSpec(dep), containerEnv(container, { podName: 'e2e', configMaps, secrets: [] }));
    const svc = await core.readNamespacedService({ name: release, namespace });
    const nodePort = svc.spec?.ports?.find((p) => p.name === 'http')?.nodePort ?? svc.spec?.ports?.[0]?.nodePort;
    const serviceUrl = process.env.E2E_SERVICE_URL ?? `http://127.0.0.1:${nodePort ?? 30080}`;
    const selector = Object.entries(dep.spec?.selector.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const driver = new KindDriver(kc, namespace, release, serviceUrl, timings, selector);
    await driver.startWatch();
    return driver;
  }

  /** Follows every pod of the Deployment: lifetimes for the timeline, container termination states. */
  private async startWatch(): Promise<void> {
    this.watch = await new Watch(this.kc).watch(
      `/api/v1/namespaces/${this.namespace}/pods`,
      { labelSelector: this.selector },
      (type, pod: V1Pod) => this.observe(type, pod),
      (err) => {
        if (err) this.events.push({ at: Date.now(), kind: 'watch-error', detail: String(err) });
      },
    );
  }

  private observe(type: string, pod: V1Pod): void {
    const name = pod.metadata?.name ?? '';
    const before = this.seen.get(name);
    this.seen.set(name, pod);
    if (!before) this.events.push({ at: pod.metadata?.creationTimestamp?.getTime() ?? Date.now(), pod: name, kind: 'created' });
    const wasReady = isReady(before);
    if (isReady(pod) !== wasReady) this.events.push({ at: Date.now(), pod: name, kind: isReady(pod) ? 'ready' : 'unready' });
    const grace = pod.metadata?.deletionGracePeriodSeconds ?? 0;
    const deletion = pod.metadata?.deletionTimestamp?.getTime();
    // deletionTimestamp is the deletion request plus the grace period.
    const deletedAt = deletion !== undefined ? deletion - grace * 1000 : undefined;
    if (deletedAt !== undefined && !before?.metadata?.deletionTimestamp) {
      const kill = this.killed.has(name);
      this.events.push({ at: deletedAt, pod: name, kind: kill ? 'sigkill' : 'deleted' });
      if (!kill) this.events.push({ at: deletedAt + this.timings.preStopSeconds * 1000, pod: name, kind: 'sigterm' });
    }
    const terminated = pod.status?.containerStatuses?.find((c) => c.name === 'lastcall')?.state?.terminated;
    if (terminated && deletedAt !== undefined && !this.ended.has(name)) {
      const finishedAt = terminated.finishedAt?.getTime() ?? Date.now();
      this.ended.set(name, {
        pod: name,
        cause: this.killed.has(name) ? 'kill' : 'delete',
        deletedAt,
        finishedAt,
        gracePeriodSeconds: grace,
        exitCode: terminated.exitCode,
        signal: terminated.signal !== undefined ? String(terminated.signal) : terminated.exitCode === 137 ? 'SIGKILL' : null,
        // 137 = 128 + SIGKILL: the kubelet's kill at the end of the grace period.
        killedAtDeadline: terminated.exitCode === 137 && !this.killed.has(name),
        message: terminated.message || undefined,
      });
      this.events.push({
        at: finishedAt,
        pod: name,
        kind: 'exited',
        detail: `${terminated.exitCode} ${terminated.reason ?? ''}`.trim(),
      });
    }
    if (type === 'DELETED' && !this.ended.has(name))
      this.events.push({ at: Date.now(), pod: name, kind: 'exited', detail: 'deleted without a termination state' });
  }

  private async deployment(): Promise<V1Deployment> {
    return this.apps.readNamespacedDeployment({ name: this.release, namespace: this.namespace });
  }

  private async waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!(await cond())) {
      if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** What `kubectl rollout status` waits for. */
  private async rolledOut(): Promise<boolean> {
    const d = await this.deployment();
    const want = d.spec?.replicas ?? 1;
    const s = d.status;
    return (
      (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
      (s?.updatedReplicas ?? 0) === want &&
      (s?.replicas ?? 0) === want &&
      (s?.availableReplicas ?? 0) === want
    );
  }

  /** `kubectl rollout restart`: a strategic-merge patch of the pod template's restartedAt annotation. */
  async rolloutRestart(): Promise<void> {
    const at = new Date().toISOString();
    this.events.push({ at: Date.now(), kind: 'rollout-restart', detail: at });
    await this.apps.patchNamespacedDeployment(
      {
        name: this.release,
        namespace: this.namespace,
        body: { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: at } } } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    await this.waitFor(() => this.rolledOut(), 300_000, `rollout of ${this.release}`);
  }

  /**
   * `kubectl scale deployment --replicas=N` (the pinned kubectl of scripts/tools/helm.sh): the
   * ReplicaSet deletes surplus pods gracefully, as an autoscaler's scale-down does.
   */
  async scaleTo(replicas: number): Promise<void> {
    this.events.push({ at: Date.now(), kind: 'scale', detail: `${replicas} replicas` });
    await promisify(execFile)(
      path.join(ROOT, 'scripts/tools/helm.sh'),
      [
        '--kubectl',
        '--context',
        this.kc.getCurrentContext(),
        '-n',
        this.namespace,
        'scale',
        `deployment/${this.release}`,
        `--replicas=${replicas}`,
      ],
      { cwd: ROOT },
    );
    await this.settle();
  }

  /** `kubectl delete pod --grace-period=0`: the kubelet SIGKILLs the container at once. */
  async killPod(): Promise<string> {
    const victim = (await this.listPods()).find((p) => isReady(p) && !p.metadata?.deletionTimestamp);
    const name = victim?.metadata?.name;
    if (!name) throw new Error('no ready pod to kill');
    this.killed.add(name);
    await this.core.deleteNamespacedPod({ name, namespace: this.namespace, gracePeriodSeconds: 0 });
    return name;
  }

  /** Deletes the bundled PostgreSQL pod; its StatefulSet starts it again. */
  async restartDatabase(): Promise<void> {
    const selector = `app.kubernetes.io/instance=${this.release},app.kubernetes.io/component=postgresql`;
    const [db] = (await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: selector })).items;
    if (!db?.metadata?.name) throw new Error(`no PostgreSQL pod (${selector})`);
    this.events.push({ at: Date.now(), kind: 'database-restart', detail: db.metadata.name });
    await this.core.deleteNamespacedPod({ name: db.metadata.name, namespace: this.namespace });
    const uid = db.metadata.uid;
    await this.waitFor(
      async () =>
        (await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: selector })).items.some(
          (p) => p.metadata?.uid !== uid && isReady(p),
        ),
      180_000,
      'PostgreSQL to be ready again',
    );
    this.events.push({ at: Date.now(), kind: 'database-up' });
  }

  private async listPods(): Promise<V1Pod[]> {
    return (await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: this.selector })).items;
  }

  async settle(): Promise<void> {
    await this.waitFor(
      async () => (await this.rolledOut()) && (await this.listPods()).every((p) => !p.metadata?.deletionTimestamp),
      300_000,
      'a settled deployment',
    );
  }

  async pods(): Promise<PodView[]> {
    return (await this.listPods()).map((p) => ({
      name: p.metadata?.name ?? '',
      ready: isReady(p),
      terminating: !!p.metadata?.deletionTimestamp,
    }));
  }

  async terminations(): Promise<Termination[]> {
    return [...this.ended.values()];
  }

  /** No database access from outside the cluster: the steps as the API shows them. */
  async taskSteps(taskIds: readonly string[]): Promise<Map<string, number[]>> {
    const out = new Map<string, number[]>();
    for (const id of taskIds) {
      const view = await callApi<{ steps: { index: number }[] }>(
        this.serviceUrl,
        'GET',
        `/v1/tasks/${id}`,
        this.apiKey ? { apiKey: this.apiKey } : {},
      );
      out.set(
        id,
        view.steps.map((s) => s.index),
      );
    }
    return out;
  }

  timeline(): TimelineEvent[] {
    return [...this.events];
  }

  stop(): void {
    this.watch?.abort();
  }
}

function isReady(pod: V1Pod | undefined): boolean {
  return pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const t0 = Date.now();
const log = (line: string) => process.stdout.write(`[e2e:kind +${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  (async () => {
    const driver = await KindDriver.connect();
    log(`service ${driver.serviceUrl}; timings ${JSON.stringify(driver.timings)}`);
    try {
      const report = await runScenario(
        driver,
        { streams: num('E2E_STREAMS', 200), tasks: num('E2E_TASKS', 50), restarts: num('E2E_RESTARTS', 5), progress: log },
        process.env.E2E_ONLY || undefined,
      );
      const files = await writeReport(REPORT_DIR, report, driver.timeline());
      log(`${report.ok ? 'PASS' : 'FAIL'}; report: ${files.map((f) => path.relative(ROOT, f)).join(', ')}`);
      return report.ok ? 0 : 1;
    } finally {
      driver.stop();
    }
  })().then(
    (code) => process.exit(code),
    (err: unknown) => {
      log(`error: ${(err as Error).stack ?? String(err)}`);
      process.exit(2);
    },
  );
}
