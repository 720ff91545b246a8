/**
 * The one `shutdown` block renders the pod's grace period, its preStop hook and the app's env:
 * whatever the values and the Kubernetes version, they must agree.
 */
import { describe, expect, it } from 'vitest';
import { envValue, find, podSpec, render, renderError, type Container, type PodSpec } from './helm.js';

function server(objs = render()): { pod: PodSpec; c: Container } {
  const pod = podSpec(find(objs, 'Deployment'));
  const c = pod.containers.find((x) => x.name === 'lastcall');
  if (!c) throw new Error('no lastcall container');
  return { pod, c };
}

/** What the pod spec says, read back from the rendered objects. */
function timings(pod: PodSpec, c: Container) {
  const hook = c.lifecycle?.preStop;
  const hookSeconds = hook?.sleep ? hook.sleep.seconds : hook?.exec ? Number(hook.exec.command[1]) : 0;
  return {
    grace: pod.terminationGracePeriodSeconds,
    hookSeconds,
    env: {
      grace: Number(envValue(c, 'TERMINATION_GRACE_PERIOD_SECONDS')),
      preStop: Number(envValue(c, 'PRESTOP_SLEEP_SECONDS')),
      margin: Number(envValue(c, 'SHUTDOWN_SAFETY_MARGIN_SECONDS')),
      propagation: Number(envValue(c, 'ENDPOINT_PROPAGATION_SECONDS')),
    },
  };
}

describe('shutdown values render one consistent pod spec', () => {
  const cases: {
    name: string;
    set: Record<string, number>;
    want: { grace: number; preStop: number; margin: number; propagation: number };
  }[] = [
    { name: 'defaults', set: {}, want: { grace: 30, preStop: 5, margin: 2, propagation: 0 } },
    {
      name: 'long grace, long preStop',
      set: {
        'shutdown.terminationGracePeriodSeconds': 120,
        'shutdown.preStopSleepSeconds': 15,
        'shutdown.safetyMarginSeconds': 5,
      },
      want: { grace: 120, preStop: 15, margin: 5, propagation: 0 },
    },
    {
      name: 'no preStop: the app keeps serving 5 s itself',
      set: { 'shutdown.preStopSleepSeconds': 0 },
      want: { grace: 30, preStop: 0, margin: 2, propagation: 5 },
    },
    {
      name: 'explicit propagation',
      set: {
        'shutdown.terminationGracePeriodSeconds': 45,
        'shutdown.preStopSleepSeconds': 3,
        'shutdown.endpointPropagationSeconds': 4,
      },
      want: { grace: 45, preStop: 3, margin: 2, propagation: 4 },
    },
    {
      name: 'the e2e timings (tightest budget that still drains)',
      set: { 'shutdown.terminationGracePeriodSeconds': 8, 'shutdown.preStopSleepSeconds': 2, 'shutdown.safetyMarginSeconds': 1 },
      want: { grace: 8, preStop: 2, margin: 1, propagation: 0 },
    },
  ];

  for (const kubeVersion of ['1.29.0', '1.31.0']) {
    describe(`Kubernetes ${kubeVersion}`, () => {
      for (const tc of cases) {
        it(tc.name, () => {
          const { pod, c } = server(render({ set: tc.set, kubeVersion }));
          const t = timings(pod, c);
          expect(t.grace).toBe(tc.want.grace);
          expect(t.env).toEqual(tc.want);
          // Pod and app agree: the hook sleeps exactly what the app subtracts.
          expect(t.hookSeconds).toBe(t.env.preStop);
          expect(t.grace).toBe(t.env.grace);
          // The app's own start-up check (budget >= propagation + 2) holds.
          expect(t.env.grace - t.env.preStop - t.env.margin).toBeGreaterThanOrEqual(t.env.propagation + 2);
        });
      }
    });
  }

  it('uses the native sleep action on Kubernetes >= 1.30', () => {
    for (const kubeVersion of ['1.30.0', '1.31.4', '1.33.1']) {
      const { c } = server(render({ kubeVersion }));
      expect(c.lifecycle?.preStop).toEqual({ sleep: { seconds: 5 } });
    }
  });

  it('falls back to exec sleep before 1.30 (the image has /bin/sleep)', () => {
    for (const kubeVersion of ['1.27.0', '1.29.9']) {
      const { c } = server(render({ kubeVersion }));
      expect(c.lifecycle?.preStop).toEqual({ exec: { command: ['sleep', '5'] } });
    }
  });

  it('renders no preStop hook when the sleep is 0', () => {
    for (const kubeVersion of ['1.29.0', '1.31.0']) {
      const { c } = server(render({ kubeVersion, set: { 'shutdown.preStopSleepSeconds': 0 } }));
      expect(c.lifecycle).toBeUndefined();
    }
  });

  it('keeps the shutdown env in the pod spec, not in the ConfigMap', () => {
    const objs = render();
    const cm = find(objs, 'ConfigMap', 'lc-lastcall') as unknown as { data: Record<string, string> };
    for (const k of [
      'TERMINATION_GRACE_PERIOD_SECONDS',
      'PRESTOP_SLEEP_SECONDS',
      'SHUTDOWN_SAFETY_MARGIN_SECONDS',
      'ENDPOINT_PROPAGATION_SECONDS',
    ]) {
      expect(cm.data[k]).toBeUndefined();
    }
  });

  it('rejects a preStop sleep that leaves no drain budget, naming the numbers', () => {
    const err = renderError({ set: { 'shutdown.terminationGracePeriodSeconds': 10, 'shutdown.preStopSleepSeconds': 7 } });
    expect(err).toMatch(
      /terminationGracePeriodSeconds \(10\) - preStopSleepSeconds \(7\) - safetyMarginSeconds \(2\) - endpointPropagationSeconds \(0\) - finalScrapeWaitSeconds \(0\) = 1 s/,
    );
  });

  it('counts the final-scrape wait against the budget, and passes it to the app', () => {
    const err = renderError({
      set: {
        'shutdown.terminationGracePeriodSeconds': 10,
        'shutdown.preStopSleepSeconds': 2,
        'shutdown.finalScrapeWaitSeconds': 5,
      },
    });
    expect(err).toMatch(/finalScrapeWaitSeconds \(5\) = 1 s leaves no drain budget/);
    const { c } = server(render({ set: { 'shutdown.finalScrapeWaitSeconds': 3 } }));
    expect(envValue(c, 'FINAL_SCRAPE_WAIT_SECONDS')).toBe('3');
  });

  it('counts endpoint propagation against the budget', () => {
    // 30 - 0 - 2 = 28 s budget, 27 s propagation: 1 s left to drain.
    const err = renderError({
      set: { 'shutdown.preStopSleepSeconds': 0, 'shutdown.endpointPropagationSeconds': 27 },
    });
    expect(err).toMatch(/= 1 s leaves no drain budget/);
    // Exactly 2 s left is accepted.
    expect(() => render({ set: { 'shutdown.preStopSleepSeconds': 0, 'shutdown.endpointPropagationSeconds': 26 } })).not.toThrow();
  });

  it('rejects the default 5 s propagation when preStop is 0 and the grace is short', () => {
    // 8 - 0 - 1 = 7 s budget, propagation defaults to 5 → 2 s: fine; grace 7 → 1 s: rejected.
    expect(() =>
      render({
        set: {
          'shutdown.terminationGracePeriodSeconds': 8,
          'shutdown.preStopSleepSeconds': 0,
          'shutdown.safetyMarginSeconds': 1,
        },
      }),
    ).not.toThrow();
    expect(
      renderError({
        set: {
          'shutdown.terminationGracePeriodSeconds': 7,
          'shutdown.preStopSleepSeconds': 0,
          'shutdown.safetyMarginSeconds': 1,
        },
      }),
    ).toMatch(/endpointPropagationSeconds \(5\)/);
  });

  it('rejects non-integer and negative timings through the schema', () => {
    expect(renderError({ setJson: { 'shutdown.preStopSleepSeconds': 2.5 } })).toMatch(/preStopSleepSeconds/);
    expect(renderError({ setJson: { 'shutdown.safetyMarginSeconds': -1 } })).toMatch(/safetyMarginSeconds/);
    expect(renderError({ setJson: { 'shutdown.terminationGracePeriodSeconds': '30' } })).toMatch(/terminationGracePeriodSeconds/);
  });
});
