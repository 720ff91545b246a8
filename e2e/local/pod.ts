import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { MAIN } from '../../testkit/service.js';
import type { ProbeSpec } from '../support/deployment.js';
import type { Termination, TimelineEvent } from '../scenario/driver.js';
import { IP_BIN } from './network.js';

export interface PodOptions {
  readonly name: string;
  /** The pod's own address (its namespace's eth0, or a 127.0.0.0/8 address): the chart's ports are bound on it. */
  readonly ip: string;
  /** The network namespace to run the process in (`ip netns exec`, which execs: the PID is node's). */
  readonly netns?: string;
  /** The service's entry point (the "image"): dist/main.js of this checkout unless another release's is given. */
  readonly main?: string;
  readonly env: Record<string, string>;
  readonly readiness: ProbeSpec;
  readonly logDir: string;
  readonly onEvent: (e: TimelineEvent) => void;
}

/**
 * One pod: the built service as a process, its readiness prober and the kubelet's termination
 * sequence (preStop sleep, SIGTERM, SIGKILL when the grace period counted from preStop runs out).
 */
export class LocalPod {
  readonly name: string;
  readonly ip: string;
  readonly netns: string | undefined;
  readonly adminPort: number;
  readonly port: number;
  readonly createdAt = Date.now();
  ready = false;
  deleting = false;
  termination: Termination | undefined;
  private readonly proc: ChildProcess;
  private readonly messagePath: string;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  private readonly readyListeners = new Set<(ready: boolean) => void>();
  private probeTimer: NodeJS.Timeout | undefined;
  private probeStreak = 0;
  private deletion: Promise<Termination> | undefined;

  constructor(private readonly opts: PodOptions) {
    this.name = opts.name;
    this.ip = opts.ip;
    this.netns = opts.netns;
    this.port = Number(opts.env.PORT);
    this.adminPort = Number(opts.env.ADMIN_PORT);
    // The kubelet creates the termination-log file; the service writes its drain report there.
    this.messagePath = path.join(opts.logDir, `${opts.name}.termination-log`);
    fs.writeFileSync(this.messagePath, '');
    const log = fs.createWriteStream(path.join(opts.logDir, `${opts.name}.log`));
    const main = opts.main ?? MAIN;
    const [cmd, args] = opts.netns ? [IP_BIN, ['netns', 'exec', opts.netns, process.execPath, main]] : [process.execPath, [main]];
    this.proc = spawn(cmd, args, {
      env: { PATH: process.env.PATH, ...opts.env, HOST: opts.ip, TERMINATION_MESSAGE_PATH: this.messagePath },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Logs go to a file per pod, like `kubectl logs`; phases come from the drain report.
    this.proc.stdout!.pipe(log, { end: false });
    this.proc.stderr!.pipe(log, { end: false });
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
    void this.exited.then(({ code, signal }) => {
      this.stopProbing();
      this.setReady(false);
      opts.onEvent({ at: Date.now(), pod: this.name, kind: 'exited', detail: signal ?? `code ${code}` });
    });
    opts.onEvent({ at: this.createdAt, pod: this.name, kind: 'created' });
    this.scheduleProbe(0);
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get baseUrl(): string {
    return `http://${this.ip}:${this.port}`;
  }

  onReadyChange(cb: (ready: boolean) => void): () => void {
    this.readyListeners.add(cb);
    return () => this.readyListeners.delete(cb);
  }

  /** Graceful deletion as the kubelet runs it. A second call returns the first one's promise. */
  delete(gracePeriodSeconds: number, preStopSeconds: number): Promise<Termination> {
    this.deletion ??= this.runDeletion(gracePeriodSeconds, preStopSeconds, 'delete');
    return this.deletion;
  }

  /** `kubectl delete pod --grace-period=0 --force`: SIGKILL now. */
  kill(): Promise<Termination> {
    this.deletion ??= this.runDeletion(0, 0, 'kill');
    return this.deletion;
  }

  private async runDeletion(grace: number, preStop: number, cause: Termination['cause']): Promise<Termination> {
    const deletedAt = Date.now();
    this.deleting = true;
    this.opts.onEvent({ at: deletedAt, pod: this.name, kind: cause === 'kill' ? 'sigkill' : 'deleted' });
    const deadline = deletedAt + grace * 1000;
    let killedAtDeadline = false;
    if (cause === 'kill') {
      this.proc.kill('SIGKILL');
    } else {
      // preStop runs first; the grace period already counts.
      if (preStop > 0) await Promise.race([this.exited, sleep(Math.min(preStop * 1000, deadline - Date.now()))]);
      if (this.alive) {
        this.opts.onEvent({ at: Date.now(), pod: this.name, kind: 'sigterm' });
        this.proc.kill('SIGTERM');
      }
      const left = deadline - Date.now();
      const done = await Promise.race([this.exited.then(() => true), sleep(Math.max(0, left)).then(() => false)]);
      if (!done && this.alive) {
        killedAtDeadline = true;
        this.opts.onEvent({ at: Date.now(), pod: this.name, kind: 'sigkill-at-deadline' });
        this.proc.kill('SIGKILL');
      }
    }
    const exit = await this.exited;
    const message = fs.readFileSync(this.messagePath, 'utf8');
    this.termination = {
      pod: this.name,
      cause,
      deletedAt,
      finishedAt: exit.at,
      gracePeriodSeconds: grace,
      exitCode: exit.code,
      signal: exit.signal,
      killedAtDeadline,
      message: message || undefined,
    };
    return this.termination;
  }

  /** Stops the process at the end of a run (no termination record). */
  async dispose(): Promise<void> {
    this.killNow();
    await this.exited;
  }

  /** Synchronous, for a harness that is exiting: no pod may outlive it. */
  killNow(): void {
    this.stopProbing();
    if (this.alive) this.proc.kill('SIGKILL');
  }

  /** The last lines of the pod's log (for a pod that crashed). */
  logTail(bytes = 2000): string {
    const text = fs.readFileSync(path.join(this.opts.logDir, `${this.name}.log`), 'utf8');
    return text.slice(-bytes);
  }

  private scheduleProbe(delayMs: number): void {
    this.probeTimer = setTimeout(() => void this.probe(), delayMs);
    this.probeTimer.unref();
  }

  private stopProbing(): void {
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
  }

  /** The kubelet's prober: successThreshold passes make it ready, failureThreshold failures unready. */
  private async probe(): Promise<void> {
    const p = this.opts.readiness;
    let ok: boolean;
    try {
      const res = await fetch(`http://${this.ip}:${this.adminPort}${p.path}`, { signal: AbortSignal.timeout(p.timeoutMs) });
      ok = res.status >= 200 && res.status < 400;
      await res.body?.cancel();
    } catch {
      ok = false;
    }
    if (!this.alive) return;
    this.probeStreak = ok === this.ready ? 0 : this.probeStreak + 1;
    if (this.probeStreak >= (ok ? p.successThreshold : p.failureThreshold)) {
      this.probeStreak = 0;
      this.setReady(ok);
    }
    this.scheduleProbe(p.periodMs);
  }

  private setReady(ready: boolean): void {
    if (this.ready === ready) return;
    this.ready = ready;
    this.opts.onEvent({ at: Date.now(), pod: this.name, kind: ready ? 'ready' : 'unready' });
    for (const cb of [...this.readyListeners]) cb(ready);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
