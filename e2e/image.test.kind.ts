import { GenericContainer, getContainerRuntimeClient, Wait } from 'testcontainers';
import { describe, expect, it } from 'vitest';

/**
 * The built image's signal handling, the way the kubelet will exercise it: `docker stop` sends
 * SIGTERM and SIGKILLs after the timeout; the service must exit 0 well before that and log its
 * drain report. Needs Docker and the image (`make image`), so it runs in the kind workflow
 * (`npx vitest run e2e/image.test.kind.ts`), not in `npm test`.
 */
const IMAGE = process.env.LASTCALL_IMAGE ?? 'lastcall:dev';
const GRACE_SECONDS = 8;

describe(`image ${IMAGE}`, () => {
  it('exits 0 with a drain report on SIGTERM, inside its grace period', { timeout: 180_000 }, async () => {
    const container = await new GenericContainer(IMAGE)
      .withEnvironment({
        TERMINATION_GRACE_PERIOD_SECONDS: String(GRACE_SECONDS),
        PRESTOP_SLEEP_SECONDS: '0',
        SHUTDOWN_SAFETY_MARGIN_SECONDS: '1',
        ENDPOINT_PROPAGATION_SECONDS: '1',
      })
      .withExposedPorts(8080, 9090)
      .withWaitStrategy(Wait.forHttp('/readyz', 9090).forStatusCode(200))
      .withStartupTimeout(120_000)
      .start();
    const id = container.getId();
    const runtime = await getContainerRuntimeClient();
    const handle = runtime.container.getById(id);
    try {
      const t = Date.now();
      // docker stop: SIGTERM, then SIGKILL once the timeout (the pod's grace period) runs out.
      await container.stop({ timeout: GRACE_SECONDS * 1000, remove: false });
      const elapsedMs = Date.now() - t;
      const state = (await handle.inspect()).State;
      const logs = (await handle.logs({ stdout: true, stderr: true })).toString('utf8');
      expect(state.ExitCode).toBe(0);
      expect(state.OOMKilled).toBe(false);
      expect(elapsedMs).toBeLessThan(GRACE_SECONDS * 1000);
      expect(logs).toContain('"msg":"drain report"');
    } finally {
      await handle.remove({ force: true });
    }
  });
});
