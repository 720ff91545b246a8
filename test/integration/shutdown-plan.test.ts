import { afterAll, describe, expect, it } from 'vitest';
import { startService, type ServiceProcess } from '../../testkit/service.js';

/**
 * The whole shutdown sequence reads from one place: the plan the engine logs at start-up, phase
 * by phase, with every feature's participants in the order they run. A change to what runs at
 * handoff shows up here as a diff.
 */
describe('the shutdown plan logged at start-up', () => {
  let svc: ServiceProcess | undefined;
  afterAll(() => svc?.kill('SIGKILL'));

  it('lists every phase and its participants', async () => {
    svc = await startService({ FINAL_SCRAPE_WAIT_SECONDS: '1' });
    const line = await svc.waitForLog((l) => l.msg === 'shutdown plan');
    expect(line.plan).toEqual([
      { phase: 'announce', participants: [] },
      {
        phase: 'stop-intake',
        participants: ['public-http:stop-intake', 'tasks:stop-claiming', 'streams:stop-claiming', 'retention:stop'],
      },
      { phase: 'drain', participants: ['public-http:drain', 'tasks:drain', 'streams:drain', 'embeddings:drain'] },
      { phase: 'handoff', participants: ['tasks:handoff', 'tasks:event-streams', 'streams:handoff', 'embeddings:close'] },
      {
        phase: 'release',
        participants: ['public-http:release', 'embeddings:release', 'llm:upstream-sockets', 'database:notifications', 'database'],
      },
      { phase: 'exit', participants: ['metrics:final-scrape'] },
    ]);
  });
});
