import type { ChildProcess } from 'node:child_process';

/** A helper process the harness started (Prometheus, the upstream) and must stop. */
export abstract class ManagedChild {
  protected constructor(protected readonly proc: ChildProcess) {}

  /** Synchronous, for a harness that is exiting. */
  killNow(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
  }
}
