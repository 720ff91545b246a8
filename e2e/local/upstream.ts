import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../../testkit/service.js';
import type { UpstreamFaults } from '../scenario/driver.js';
import { ManagedChild } from './child.js';

/** The built-in deterministic upstream as its own process (`node dist/upstream/cli.js`), shared by every replica. */
export class UpstreamProcess extends ManagedChild {
  private constructor(
    readonly baseUrl: string,
    proc: ChildProcess,
  ) {
    super(proc);
  }

  static startOn(port: number, tokensPerSecond: number, host = '127.0.0.1'): Promise<UpstreamProcess> {
    const proc = spawn(
      process.execPath,
      [
        path.join(ROOT, 'dist/upstream/cli.js'),
        '--host',
        host,
        '--port',
        String(port),
        '--tokens-per-second',
        String(tokensPerSecond),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    return new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      proc.stderr.on('data', (c) => (err += c));
      proc.stdout.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        const m = /"url":"([^"]+)"/.exec(out);
        if (m) resolve(new UpstreamProcess(m[1]!, proc));
      });
      proc.once('exit', (code) => reject(new Error(`upstream exited (${code}) before listening: ${err}`)));
    });
  }

  async setFaults(faults: UpstreamFaults): Promise<void> {
    const res = await fetch(new URL('/__dev/faults', this.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(faults),
    });
    if (!res.ok) throw new Error(`POST /__dev/faults: ${res.status} ${await res.text()}`);
  }
}
