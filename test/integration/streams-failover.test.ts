import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { streamChat, type StreamEvent } from '../../src/client/index.js';
import { FATAL_BUDGET_MS } from '../../src/drain/signals.js';
import { plan } from '../../src/upstream/text.js';
import { forwarder } from '../../testkit/forwarder.js';
import { useFailoverPair } from '../../testkit/failover-pair.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

const MAX_TOKENS = 400; // 10 s at 40 tokens/s: longer than the 5 s shutdown budget
const BUDGET_MS = 5_000; // grace 6 − margin 1

/** The first prompt whose natural completion is at least MAX_TOKENS long. */
function longPrompt(tag: string) {
  for (let i = 0; ; i++) {
    const messages = [{ role: 'user', content: `${tag} ${i}: tell me about draining pods` }];
    if (plan(messages).tokens.length >= MAX_TOKENS) return { messages, max_tokens: MAX_TOKENS };
  }
}

describe('a stream survives the replica generating it (two replicas, one PostgreSQL)', () => {
  const pair = useFailoverPair('replica-b');
  const env = (replica: string) => pair.env(replica);

  /** Streams through a fresh forwarder from `a`; after 40 tokens points it at B and signals `a`. */
  async function streamAcross(a: ServiceProcess, signal: NodeJS.Signals, tag: string) {
    const body = longPrompt(tag);
    // A fresh one per test: no keep-alive connection from an earlier test may lead elsewhere.
    const proxy = forwarder();
    const url = await proxy.listen();
    proxy.point(a.port);
    const ids: number[] = [];
    let signalledAt = 0;
    const onEvent = (e: StreamEvent) => {
      if (e.id !== undefined) ids.push(e.id);
      if (e.event === 'token' && e.id === 40) {
        proxy.point(pair.b.port);
        signalledAt = performance.now();
        a.kill(signal);
      }
    };
    const result = await streamChat(url, body, { onEvent }).finally(() => proxy.close());
    const reference = plan(body.messages, MAX_TOKENS).tokens.join('');
    expect(result.error).toBeUndefined();
    expect(result.text).toBe(reference);
    expect(result.finishReason).toBe('length');
    expect(ids).toEqual(Array.from({ length: MAX_TOKENS + 1 }, (_, i) => i + 1)); // tokens 1..400, then done 401
    expect(result.resumes).toBeGreaterThanOrEqual(1);
    return { result, signalledAt };
  }

  it('SIGTERM: the client follows `end` to the other replica, which continues the generation; the first exits 0 within its budget', async () => {
    const a = await startService(env('replica-a'));
    const { signalledAt } = await streamAcross(a, 'SIGTERM', 'term');
    const exit = await a.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(BUDGET_MS + 500);
    const report = a.logs.find((l) => l.msg === 'drain report')?.report as {
      phases: { name: string; participants: { name: string; detail?: { handedOff?: number } }[] }[];
    };
    const handoff = report.phases.find((p) => p.name === 'handoff')!.participants.find((p) => p.name === 'streams:handoff');
    expect(handoff?.detail?.handedOff).toBe(1);
    expect(pair.b.logs.some((l) => l.msg === 'took over a stream generation')).toBe(true);
  });

  it('SIGKILL: the cut client reconnects to the other replica, which takes over once the lease expires', async () => {
    const a = await startService(env('replica-a2'));
    const { result } = await streamAcross(a, 'SIGKILL', 'kill');
    expect((await a.exited).signal).toBe('SIGKILL');
    expect(result.resumes).toBeGreaterThanOrEqual(1);
  });

  it('an error nothing caught: the replica hands the stream off at once, no lease to wait out, and exits 1', async () => {
    const throwOnSigusr2 = fileURLToPath(new URL('../fixtures/throw-on-sigusr2.mjs', import.meta.url));
    const a = await startService(env('replica-a3'), { nodeArgs: ['--import', throwOnSigusr2] });
    const { signalledAt } = await streamAcross(a, 'SIGUSR2', 'fatal');
    const exit = await a.exited;
    expect(exit.code).toBe(1);
    expect(exit.at - signalledAt).toBeLessThan(FATAL_BUDGET_MS + 500);
    expect(a.logs.find((l) => l.msg === 'uncaught error; handing off and exiting')).toBeDefined();
    const takeover = pair.b.logs.findLast((l) => l.msg === 'took over a stream generation');
    // Released at handoff, not expired: the 3 s lease was never waited out.
    expect(takeover?.via).toBe('handoff');
  });
});
