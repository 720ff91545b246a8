import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../testkit/service.js';

/**
 * The hostile sweep's quick run (e2e/hostile/README.md) as part of the test command: a real
 * replica on a real PostgreSQL answers bad input with JSON 4xx only, never hangs, leaks no slot
 * when clients hang up mid-query, answers a frozen database with 503 + Retry-After, and drains in
 * budget with slow clients attached. The full run (`npm run hostile`) is in the release note.
 */
describe('hostile sweep (quick)', () => {
  it('finds no 5xx, hang, leaked slot or slow drain', async () => {
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', path.join(ROOT, 'e2e/hostile/sweep.ts'), '--quick'], {
        cwd: ROOT,
        maxBuffer: 64 * 1024 * 1024,
        timeout: 240_000,
      });
      let text = '';
      child.stdout?.on('data', (c: string) => (text += c));
      child.stderr?.on('data', (c: string) => (text += c));
      child.on('exit', (c) => resolve({ code: c, out: text }));
    });
    expect(out, out.slice(-4000)).toMatch(/VERDICT: PASS/);
    expect(code).toBe(0);
  }, 300_000);
});
