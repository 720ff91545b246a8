import type { PhaseName } from './phases.js';
import type { Deadline } from '../time/clock.js';

/** What every resource that needs cleanup implements: act in one phase, done by the deadline. */
export interface Participant {
  readonly name: string;
  readonly phase: PhaseName;
  /** May return facts for the drain report (e.g. how many streams were handed off). */
  close(deadline: Deadline): Promise<ParticipantDetail | void>;
}

export type ParticipantDetail = Readonly<Record<string, unknown>>;

export type ServingState = 'starting' | 'serving';
export type LifecycleState = ServingState | PhaseName | 'exited';

/**
 * The read-only view of the drain given to every participant; only the composition root holds
 * the engine that starts it.
 */
export interface DrainState {
  readonly current: LifecycleState;
  /** True from the first instant of shutdown. */
  readonly draining: boolean;
  /** True once `phase` has begun (or passed). */
  reached(phase: PhaseName): boolean;
  /** Called on every transition; returns an unsubscribe function. */
  onChange(listener: (state: LifecycleState) => void): () => void;
}

export interface ParticipantOutcome {
  readonly name: string;
  readonly outcome: 'ok' | 'timeout' | 'error';
  readonly ms: number;
  readonly error?: string;
  readonly detail?: ParticipantDetail;
}

export interface PhaseRecord {
  readonly name: PhaseName;
  /** Milliseconds after SIGTERM. */
  readonly startedAtMs: number;
  readonly durationMs: number;
  readonly allowedMs: number;
  readonly participants: readonly ParticipantOutcome[];
  /** Not run: the sequence started past it (a fatal error) or was told to hurry past it. */
  readonly skipped?: true;
}

export interface DrainReport {
  readonly replica: string;
  readonly reason: string;
  readonly budgetMs: number;
  readonly totalMs: number;
  readonly withinBudget: boolean;
  readonly phases: readonly PhaseRecord[];
}
