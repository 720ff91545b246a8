import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { freePort, startPostgres, type PostgresInstance } from '../../testkit/postgres.js';
import type { EmulatorControl } from '../../testkit/emulator/control.js';
import { startEmulatorProcess, type EmulatorProcess } from '../../testkit/emulator/process.js';
import type {
  Driver,
  Partition,
  PodView,
  Release,
  Termination,
  Timings,
  TimelineEvent,
  UpstreamChoice,
  UpstreamFaults,
} from '../scenario/driver.js';
import { containerEnv, rolloutSpec, serverContainer, timingsOf, type RolloutSpec } from '../support/deployment.js';
import { renderChart, type RenderedChart } from './chart.js';
import { LoadBalancer } from './load-balancer.js';
import { LocalPod } from './pod.js';
import { IP_BIN, PodNetwork, type NetworkInfo, type PodAddress } from './network.js';
import { LocalPrometheus } from './prometheus.js';
import { UpstreamProcess } from './upstream.js';

export interface LocalClusterOptions {
  /** Where pod logs, termination messages and Prometheus' data go. */
  readonly workDir: string;
  /**
   * How long after a pod's readiness changes (or its deletion) the Service notices: kube-proxy's
   * lag. Applied concurrently with the pod's termination, so traffic still reaches a pod in preStop.
   */
  readonly propagationLagMs: number;
  readonly replicas?: number;
  readonly progress?: (line: string) => void;
}

/** The local stand-in for a Deployment, its Service, the kubelet and Prometheus (see driver.ts). */
export class LocalCluster implements Driver {
  readonly name = 'local' as const;
  readonly apiKey = undefined;
  serviceUrl = '';
  prometheusUrl: string | undefined;
  timings!: Timings;
  private spec!: RolloutSpec;
  /** The Deployment's spec.replicas: the chart's replicaCount until scaleTo() changes it. */
  private desired = 0;
  private chart!: RenderedChart;
  private pg!: PostgresInstance;
  private upstream!: UpstreamProcess;
  /** The chart values the harness sets (database, upstream); useUpstream() changes the upstream's. */
  private values: Record<string, string | number> = {};
  private devUpstreamUrl = '';
  /** The build new pods run (the Deployment's image); useRelease() changes it. */
  private release: Release | undefined;
  private emulatorProcess: EmulatorProcess | undefined;
  emulator: EmulatorControl | undefined;
  private prometheus!: LocalPrometheus;
  private readonly lb = new LoadBalancer();
  private readonly all: LocalPod[] = [];
  private readonly events: TimelineEvent[] = [];
  private readonly revisions: string[] = [];
  private revision = 0;
  private net: PodNetwork | undefined;
  /** Which pod networking runs (namespaces or loopback addresses); recorded in the report. */
  network!: NetworkInfo;
  private loop: NodeJS.Timeout | undefined;
  private readonly podRevision = new Map<LocalPod, number>();
  /** Pods that exited without being deleted (a crash, or the kill fault). */
  private readonly crashed: LocalPod[] = [];
  private readonly killAll = () => {
    for (const p of this.all) p.killNow();
    this.prometheus?.killNow();
    this.upstream?.killNow();
    this.emulatorProcess?.proc.kill('SIGKILL');
  };

  private constructor(private readonly opts: LocalClusterOptions) {}

  static async start(opts: LocalClusterOptions): Promise<LocalCluster> {
    const c = new LocalCluster(opts);
    try {
      await c.boot();
    } catch (err) {
      await c.stop().catch(() => undefined);
      throw err;
    }
    return c;
  }

  private log(line: string): void {
    this.opts.progress?.(line);
  }

  private record(e: TimelineEvent): void {
    this.events.push(e);
  }

  private async boot(): Promise<void> {
    fs.mkdirSync(this.opts.workDir, { recursive: true });
    process.once('exit', this.killAll);
    const replicas = this.opts.replicas ?? 3;
    // allSettled: whatever started is stopped by stop() when another part failed.
    const [pgR, portR, netR] = await Promise.allSettled([startPostgres(), freePort(), PodNetwork.create(replicas + 1)]);
    if (pgR.status === 'fulfilled') this.pg = pgR.value;
    if (netR.status === 'fulfilled') this.net = netR.value;
    for (const r of [netR, pgR, portR]) if (r.status === 'rejected') throw r.reason;
    const [pgi, upstreamPort, net] = [this.pg, (portR as PromiseFulfilledResult<number>).value, this.net!];
    this.network = net.info;
    this.log(net.describe());
    // Pods reach PostgreSQL and the upstream at the host's address on their network.
    const hostIp = net.hostIp;
    if (hostIp !== '127.0.0.1') await this.listenOnBridge(hostIp);
    const podDatabaseUrl = pgi.url.replace('@127.0.0.1:', `@${hostIp}:`);
    this.log(`postgres ${podDatabaseUrl}`);
    this.devUpstreamUrl = `http://${hostIp}:${upstreamPort}/v1`;
    this.values = {
      replicaCount: replicas,
      'database.url': podDatabaseUrl,
      'config.openaiBaseUrl': this.devUpstreamUrl,
    };
    this.chart = await renderChart(this.values);
    this.spec = rolloutSpec(this.chart.deployment);
    this.desired = this.spec.replicas;
    const env = this.podEnv('probe');
    this.timings = timingsOf(this.spec, env);
    this.log(
      `chart: ${this.spec.replicas} replicas, grace ${this.spec.graceSeconds}s, preStop ${this.spec.preStopSeconds}s, ` +
        `maxSurge ${this.spec.maxSurge}, maxUnavailable ${this.spec.maxUnavailable}, readiness every ${this.spec.readiness.periodMs}ms ` +
        `(failureThreshold ${this.spec.readiness.failureThreshold}), drain budget ${this.timings.drainBudgetSeconds}s`,
    );
    this.upstream = await UpstreamProcess.startOn(upstreamPort, this.timings.tokensPerSecond, hostIp);
    this.prometheus = await LocalPrometheus.start(path.join(this.opts.workDir, 'prometheus'));
    this.prometheusUrl = this.prometheus.url;
    this.serviceUrl = await this.lb.listen();
    this.log(`service ${this.serviceUrl}, prometheus ${this.prometheusUrl}, upstream ${this.upstream.baseUrl}`);
    this.newRevision();
    this.loop = setInterval(() => this.reconcile(), 100);
    this.loop.unref();
    await this.waitFor(
      () => this.complete() && this.lb.currentEndpoints().length === this.desired,
      120_000,
      'initial pods ready',
    );
    this.log(
      `pods ready: ${this.live()
        .map((p) => p.name)
        .join(', ')}`,
    );
  }

  /**
   * PostgreSQL (127.0.0.1 only, see scripts/pg/start.sh) also listens on the bridge address, and
   * trusts the pods' subnet; a restart applies it (the data directory is ours, a temp dir).
   */
  private async listenOnBridge(hostIp: string): Promise<void> {
    const client = new pg.Client({ connectionString: this.pg.url });
    await client.connect();
    try {
      await client.query(`ALTER SYSTEM SET listen_addresses = '127.0.0.1,${hostIp}'`);
    } finally {
      await client.end();
    }
    fs.appendFileSync(
      path.join(this.pg.dataDir, 'pg_hba.conf'),
      `\n# lastcall e2e pods (e2e/local/network.ts)\nhost all all ${this.network.subnet} trust\n`,
    );
    await this.pg.restart();
  }

  /** The env the chart gives a pod named `name`, bound to the pod's own address. */
  private podEnv(name: string): Record<string, string> {
    return containerEnv(serverContainer(this.chart.deployment), {
      podName: name,
      configMaps: this.chart.configMaps,
      secrets: this.chart.secrets,
    });
  }

  private newRevision(): void {
    this.revision++;
    this.revisions.push(randomBytes(5).toString('hex').slice(0, 9));
  }

  private createPod(): void {
    const name = `lastcall-${this.revisions[this.revision - 1]}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const addr: PodAddress = this.net!.take();
    const pod = new LocalPod({
      name,
      ip: addr.ip,
      netns: addr.netns,
      ...(this.release ? { main: this.release.main } : {}),
      env: this.podEnv(name),
      readiness: this.spec.readiness,
      logDir: this.opts.workDir,
      onEvent: (e) => {
        this.record(e);
        if (e.kind === 'ready' || e.kind === 'unready' || e.kind === 'deleted' || e.kind === 'sigkill') this.propagateEndpoints();
        if (e.kind === 'exited') {
          this.updateScrapeTargets();
          // Like a pod sandbox, the namespace outlives the process a while: a connection the
          // Service still sends there is refused at once rather than lost to ARP timeouts.
          setTimeout(() => this.net?.release(addr), 30_000).unref();
        }
      },
    });
    this.all.push(pod);
    this.podRevision.set(pod, this.revision);
    this.updateScrapeTargets();
  }

  /** kube-proxy learns of endpoint changes late: the snapshot taken now is applied after the lag. */
  private propagateEndpoints(): void {
    const snapshot = this.all.filter((p) => p.ready && !p.deleting).map((p) => ({ name: p.name, host: p.ip, port: p.port }));
    setTimeout(() => {
      this.lb.setEndpoints(snapshot);
      this.record({ at: Date.now(), kind: 'endpoints', detail: snapshot.map((e) => e.name).join(' ') });
    }, this.opts.propagationLagMs).unref();
  }

  private updateScrapeTargets(): void {
    this.prometheus?.setTargets(this.all.filter((p) => p.alive).map((p) => ({ address: `${p.ip}:${p.adminPort}`, pod: p.name })));
  }

  private live(): LocalPod[] {
    return this.all.filter((p) => !p.deleting && p.alive);
  }

  /** The ReplicaSets and the deployment controller's rolling update, in one loop. */
  private reconcile(): void {
    const { maxSurge, maxUnavailable } = this.spec;
    const replicas = this.desired;
    // A pod that died on its own is gone: the ReplicaSet replaces it.
    for (const p of this.all) {
      if (!p.alive && !p.deleting) {
        p.deleting = true;
        this.crashed.push(p);
      }
    }
    const live = this.live();
    const current = live.filter((p) => this.podRevision.get(p) === this.revision);
    const old = live.filter((p) => this.podRevision.get(p) !== this.revision);
    if (old.length === 0 && current.length > replicas) {
      // Scale-down: the ReplicaSet deletes its surplus pods gracefully, the ones not ready first,
      // then the newest (the controller's ranking of pods to delete), each with the pod's own
      // grace period and preStop, exactly like a rollout's deletions.
      const surplus = [...current]
        .sort((a, b) => Number(a.ready) - Number(b.ready) || b.createdAt - a.createdAt)
        .slice(0, current.length - replicas);
      for (const p of surplus) void p.delete(this.spec.graceSeconds, this.spec.preStopSeconds);
      return;
    }
    let total = live.length;
    let fresh = current.length;
    while (fresh < replicas && (old.length === 0 ? true : total < replicas + maxSurge)) {
      this.createPod();
      fresh++;
      total++;
    }
    if (old.length === 0) return;
    const ready = live.filter((p) => p.ready).length;
    let removable = ready - (replicas - maxUnavailable);
    // Old pods that are not ready count for nothing: they go first, without waiting.
    const byReadiness = [...old].sort((a, b) => Number(a.ready) - Number(b.ready));
    for (const p of byReadiness) {
      if (p.ready) {
        if (removable <= 0) break;
        removable--;
      }
      void p.delete(this.spec.graceSeconds, this.spec.preStopSeconds);
    }
  }

  private complete(): boolean {
    const live = this.live();
    return live.length === this.desired && live.every((p) => p.ready && this.podRevision.get(p) === this.revision);
  }

  private async waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const until = Date.now() + timeoutMs;
    const crashesBefore = this.crashed.length;
    while (!cond()) {
      if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      // No CrashLoopBackOff here: a pod that keeps crashing fails the run at once, with its log.
      const crash = this.crashed.slice(crashesBefore).find((p) => !p.termination);
      if (crash) throw new Error(`pod ${crash.name} exited on its own while waiting for ${what}:\n${crash.logTail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async rolloutRestart(): Promise<void> {
    this.newRevision();
    this.record({ at: Date.now(), kind: 'rollout-restart', detail: `revision ${this.revision}` });
    await this.waitFor(() => this.complete(), 180_000, `rollout to revision ${this.revision}`);
  }

  async useUpstream(choice: UpstreamChoice): Promise<void> {
    const hostIp = this.net!.hostIp;
    let values: Record<string, string | number>;
    if (choice.kind === 'dev') {
      values = { 'config.openaiBaseUrl': this.devUpstreamUrl };
    } else {
      const answer = { tokensPerSecond: this.timings.tokensPerSecond, minTokens: choice.minTokens, maxTokens: choice.maxTokens };
      this.emulatorProcess ??= await startEmulatorProcess({ host: hostIp, profile: 'openai', ...answer });
      await this.emulatorProcess.control.config({ profile: 'openai', ...answer });
      this.emulator = this.emulatorProcess.control;
      values = {
        'config.openaiBaseUrl': this.emulatorProcess.baseUrl,
        'config.llmModel': 'emulated-model',
        'config.llmResumeMode': choice.resumeMode,
      };
    }
    const { 'config.llmModel': _model, 'config.llmResumeMode': _mode, ...rest } = this.values;
    this.values = { ...rest, ...values };
    this.chart = await renderChart(this.values);
    this.record({ at: Date.now(), kind: 'upstream', detail: choice.kind === 'dev' ? 'dev' : `emulator, ${choice.resumeMode}` });
    await this.rolloutRestart();
    // Until the old pods are gone the Service may still send them new streams, on the old upstream.
    await this.settle();
  }

  async useRelease(release: Release | undefined): Promise<void> {
    this.release = release;
    this.record({ at: Date.now(), kind: 'release', detail: release?.name ?? 'this checkout' });
    await this.rolloutRestart();
    await this.settle();
  }

  async scaleTo(replicas: number): Promise<void> {
    this.record({ at: Date.now(), kind: 'scale', detail: `${this.desired} → ${replicas} replicas` });
    this.desired = replicas;
    await this.waitFor(() => this.complete() && this.all.every((p) => !p.deleting || !p.alive), 180_000, `${replicas} replicas`);
  }

  /** A ready, serving pod chosen at random. */
  private randomReadyPod(what: string): LocalPod {
    const ready = this.live().filter((p) => p.ready);
    if (ready.length === 0) throw new Error(`no ready pod to ${what}`);
    return ready[randomInt(ready.length)]!;
  }

  async killPod(): Promise<string> {
    const victim = this.randomReadyPod('kill');
    await victim.kill();
    return victim.name;
  }

  async restartDatabase(): Promise<void> {
    this.record({ at: Date.now(), kind: 'database-restart' });
    await this.pg.restart({ downMs: 1_000 });
    this.record({ at: Date.now(), kind: 'database-up' });
  }

  async stallDatabase(ms: number): Promise<void> {
    this.record({ at: Date.now(), kind: 'database-stall', detail: `SIGSTOP for ${ms} ms` });
    this.pg.pause();
    try {
      await new Promise((r) => setTimeout(r, ms));
    } finally {
      this.pg.resume();
      this.record({ at: Date.now(), kind: 'database-up', detail: 'SIGCONT' });
    }
  }

  /**
   * Inside the pod's namespace, a policy rule sends its TCP packets for PostgreSQL's port into a
   * veth whose far end drops them (a permanent neighbour entry no one owns): a silent partition,
   * open connections hang and new ones time out, with no iptables or dummy device needed.
   */
  async partitionFromDatabase(): Promise<Partition> {
    const victim = this.randomReadyPod('partition');
    const ns = victim.netns;
    if (!ns) throw new Error('a partition needs a network namespace per pod (E2E_NETNS, run as root)');
    const pgIp = this.net!.hostIp;
    const rule = `rule add to ${pgIp} ipproto tcp dport ${this.pg.port} table 100`;
    const ip = (script: string) =>
      new Promise<void>((resolve, reject) => {
        const child = execFile(IP_BIN, ['-n', ns, '-batch', '-'], (err, _out, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(),
        );
        child.stdin!.end(script);
      });
    await ip(
      [
        'link add pgcut0 type veth peer name pgcut1',
        'link set pgcut0 up',
        'link set pgcut1 up',
        `neigh add ${pgIp} lladdr 02:00:00:00:00:01 dev pgcut0 nud permanent`,
        `route add table 100 ${pgIp}/32 dev pgcut0`,
        rule,
        '',
      ].join('\n'),
    );
    this.record({
      at: Date.now(),
      pod: victim.name,
      kind: 'partition',
      detail: `packets to PostgreSQL :${this.pg.port} dropped`,
    });
    let healed = false;
    return {
      pod: victim.name,
      heal: async () => {
        if (healed) return;
        healed = true;
        // The pod may be gone by now, and its namespace with it.
        await ip(`${rule.replace('rule add', 'rule del')}\nlink del pgcut0\n`).catch(() => undefined);
        this.record({ at: Date.now(), pod: victim.name, kind: 'partition-healed' });
      },
    };
  }

  setUpstreamFaults(faults: UpstreamFaults): Promise<void> {
    this.record({ at: Date.now(), kind: 'upstream-faults', detail: JSON.stringify(faults) });
    return this.upstream.setFaults(faults);
  }

  async settle(): Promise<void> {
    await this.waitFor(() => this.complete() && this.all.every((p) => !p.deleting || !p.alive), 120_000, 'a settled deployment');
  }

  async pods(): Promise<PodView[]> {
    return this.all.filter((p) => p.alive).map((p) => ({ name: p.name, ready: p.ready, terminating: p.deleting }));
  }

  async terminations(): Promise<Termination[]> {
    return this.all.flatMap((p) => (p.termination ? [p.termination] : []));
  }

  async taskSteps(taskIds: readonly string[]): Promise<Map<string, number[]>> {
    const client = new pg.Client({ connectionString: this.pg.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ task_id: string; idx: number }>(
        'SELECT task_id, idx FROM task_steps WHERE task_id = ANY($1) ORDER BY task_id, idx',
        [taskIds],
      );
      const out = new Map<string, number[]>(taskIds.map((id) => [id, []]));
      for (const r of rows) out.get(r.task_id)?.push(r.idx);
      return out;
    } finally {
      await client.end();
    }
  }

  timeline(): TimelineEvent[] {
    return [...this.events];
  }

  serviceErrors(): { failed: number; cut: number } {
    return { failed: this.lb.stats.failed, cut: this.lb.stats.cut };
  }

  async stop(): Promise<void> {
    clearInterval(this.loop);
    try {
      await Promise.all(this.all.map((p) => p.dispose()));
      await this.lb.close();
      await Promise.allSettled([this.prometheus?.stop(), this.upstream?.stop(), this.emulatorProcess?.stop(), this.pg?.stop()]);
    } finally {
      // Namespaces, veths and the bridge go last, once nothing runs in or listens on them.
      await this.net?.close();
      process.off('exit', this.killAll);
    }
  }
}
