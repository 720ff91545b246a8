import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, startService, type ServiceProcess } from '../../testkit/service.js';

const run = promisify(execFile);
const SMOKE = path.join(ROOT, 'dist/tools/smoke.js');

describe('helm test smoke command (dist/tools/smoke.js)', () => {
  let svc: ServiceProcess | undefined;
  afterAll(() => svc?.kill('SIGKILL'));

  it('passes against a running service with API keys, using the first key from API_KEYS', async () => {
    svc = await startService({ API_KEYS: 'smoke:smoke-key-0123456789abcdefghij,other-0123456789abcdefghij' });
    const { stdout } = await run(process.execPath, [SMOKE, '--url', svc.url], {
      env: { ...process.env, API_KEYS: 'smoke:smoke-key-0123456789abcdefghij,other-0123456789abcdefghij' },
    });
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { check: string; ok: boolean });
    expect(lines.map((l) => [l.check, l.ok])).toEqual([
      ['stream', true],
      ['embeddings', true],
    ]);
  });

  it('fails with exit 1 when the key is wrong', async () => {
    const err = await run(process.execPath, [SMOKE, '--url', svc!.url], {
      env: { ...process.env, API_KEYS: 'wrong-0123456789abcdefghijkl' },
    }).catch((e: { code: number; stdout: string }) => e);
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stdout: string }).stdout).toMatch(/"ok":false/);
  });
});
