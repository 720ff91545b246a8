import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('../../fixtures/shutdown-trigger.ts', import.meta.url));

/** Runs the fixture as a real process; resolves with its exit code, log lines and termination message. */
function run(how: 'failure' | 'signal'): Promise<{ code: number | null; logs: Record<string, unknown>[]; termination: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lastcall-signals-'));
  // Kubernetes creates the file; the service only writes into one that exists.
  const terminationPath = path.join(dir, 'termination-log');
  fs.writeFileSync(terminationPath, '');
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, how, terminationPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      const logs = out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, logs, termination: fs.readFileSync(terminationPath, 'utf8') });
    }),
  );
}

describe('shutdown signals and the failure trigger', () => {
  it('SIGTERM drains and exits 0 with the report', async () => {
    const { code, logs, termination } = await run('signal');
    expect(code).toBe(0);
    expect(logs.find((l) => l.msg === 'shutdown started')).toMatchObject({ signal: 'SIGTERM' });
    expect(logs.some((l) => l.msg === 'drain report')).toBe(true);
    expect(termination).toContain('SIGTERM');
  });

  it('a failure drains the same way and exits 1, so the pod reads Error rather than Completed', async () => {
    const { code, logs, termination } = await run('failure');
    expect(code).toBe(1);
    expect(logs.find((l) => l.msg === 'shutdown started')).toMatchObject({ signal: 'fixture-failure' });
    expect(logs.some((l) => l.msg === 'drain report')).toBe(true);
    expect(termination).toContain('fixture-failure');
  });
});
