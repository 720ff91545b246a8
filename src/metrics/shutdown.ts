import { Gauge, Counter, type Registry } from 'prom-client';
import { PHASES, type PhaseName } from '../drain/phases.js';
import type { LifecycleState } from '../drain/types.js';
import { METRICS } from './names.js';

const STATES = ['starting', 'serving', ...PHASES, 'exited'] as const;

export function createShutdownMetrics(registry: Registry) {
  const ready = new Gauge({ name: METRICS.ready, help: '1 while /readyz answers 200', registers: [registry] });
  const phase = new Gauge({
    name: METRICS.shutdownPhase,
    help: '1 for the lifecycle state this replica is in (serving or a shutdown phase)',
    labelNames: ['phase'],
    registers: [registry],
  });
  const duration = new Gauge({
    name: METRICS.shutdownPhaseDuration,
    help: 'How long each shutdown phase took',
    labelNames: ['phase'],
    registers: [registry],
  });
  const budget = new Gauge({
    name: METRICS.shutdownBudget,
    help: 'Time from SIGTERM to the promised exit: grace − preStop − margin',
    registers: [registry],
  });
  const participantTimeouts = new Counter({
    name: METRICS.shutdownParticipantTimeouts,
    help: 'Shutdown participants abandoned at their deadline or failed',
    labelNames: ['phase', 'outcome'],
    registers: [registry],
  });
  for (const s of STATES) phase.set({ phase: s }, 0);
  // Series exist from start-up, so rate()/increase() over a pod's life see the step from 0.
  for (const p of PHASES) for (const outcome of ['timeout', 'error']) participantTimeouts.inc({ phase: p, outcome }, 0);
  ready.set(0);
  return {
    ready,
    budget,
    participantTimeouts,
    setState(state: LifecycleState) {
      for (const s of STATES) phase.set({ phase: s }, s === state ? 1 : 0);
    },
    phaseDuration(name: PhaseName, seconds: number) {
      duration.set({ phase: name }, seconds);
    },
  };
}
export type ShutdownMetrics = ReturnType<typeof createShutdownMetrics>;
