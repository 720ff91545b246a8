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
  it.each([
    { how: 'signal', code: 0, reason: 'SIGTERM', what: 'SIGTERM drains and exits 0 with the report' },
    { how: 'failure', code: 1, reason: 'fixture-failure', what: 'a failure drains the same way and exits 1, so the pod reads Error rather than Completed' },
  ] as const)('$what', async ({ how, code, reason }) => {
    const result = await run(how);
    expect(result.code).toBe(code);
    expect(result.logs.find((l) => l.msg === 'shutdown started')).toMatchObject({ signal: reason });
    expect(result.logs.some((l) => l.msg === 'drain report')).toBe(true);
    expect(result.termination).toContain(reason);
  });
});
