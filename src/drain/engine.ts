import { deadlineAt, sleep, untilAborted, type Clock } from '../time/clock.js';
import type { PhaseCap, PhaseName, PhaseSpec } from './phases.js';
import type { ShutdownBudget } from './budget.js';
import type { DrainReport, DrainState, LifecycleState, Participant, ParticipantOutcome, PhaseRecord } from './types.js';

export interface DrainObserver {
  phaseStarted(phase: PhaseName): void;
  phaseEnded(record: PhaseRecord): void;
  participantFailed(phase: PhaseName, outcome: ParticipantOutcome): void;
}

export interface PlannedPhase {
  readonly phase: PhaseName;
  readonly cap: PhaseCap;
  readonly reserveMs: number;
  readonly participants: readonly string[];
}

export interface DrainEngineOptions {
  readonly clock: Clock;
  readonly table: readonly PhaseSpec[];
  readonly budget: ShutdownBudget;
  readonly replica: string;
  readonly observer: DrainObserver;
}

/**
 * Runs the phase table once. Each phase's participants run in parallel against one deadline;
 * a participant that ignores it is abandoned (never awaited past it), so the sequence always
 * reaches `exit` inside the budget.
 */
export class DrainEngine {
  private state: LifecycleState = 'starting';
  private readonly listeners = new Set<(s: LifecycleState) => void>();
  private readonly participants: Participant[] = [];
  private running: Promise<DrainReport> | undefined;
  /** Phases before this index are skipped (see start's `from` and hurry). */
  private skipTo = 0;
  private current: { readonly index: number; readonly deadline: ReturnType<typeof deadlineAt> } | undefined;

  /** The read-only view handed to participants. */
  readonly view: DrainState;

  constructor(private readonly opts: DrainEngineOptions) {
    const state = () => this.state;
    const order = opts.table.map((p) => p.name);
    this.view = {
      get current() {
        return state();
      },
      get draining() {
        const s = state();
        return s !== 'starting' && s !== 'serving';
      },
      reached(phase) {
        const s = state();
        if (s === 'exited') return true;
        if (s === 'starting' || s === 'serving') return false;
        return order.indexOf(s) >= order.indexOf(phase);
      },
      onChange: (listener) => {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
      },
    };
  }

  register(participant: Participant): void {
    if (this.running) throw new Error(`cannot register ${participant.name}: shutdown has begun`);
    this.participants.push(participant);
  }

  /** The sequence as it will run: each phase with its cap and its participants in registration order. */
  plan(): PlannedPhase[] {
    return this.opts.table.map((spec) => ({
      phase: spec.name,
      cap: spec.cap,
      reserveMs: spec.reserveMs,
      participants: this.participants.filter((p) => p.phase === spec.name).map((p) => p.name),
    }));
  }

  markServing(): void {
    if (this.state === 'starting') this.transition('serving');
  }

  /**
   * Starts the sequence; later calls return the same promise and change nothing. `from` skips
   * the phases before it and `budgetMs` shortens the budget: the way out after a fatal error,
   * when there is nothing left to serve and only handing off matters.
   */
  start(reason: string, opts: { from?: PhaseName; budgetMs?: number } = {}): Promise<DrainReport> {
    if (opts.from) this.skipTo = this.indexOf(opts.from);
    this.running ??= this.run(reason, opts.budgetMs ?? this.opts.budget.totalMs);
    return this.running;
  }

  /**
   * Ends the running phase now and skips to `phase` (a second Ctrl-C: stop waiting for streams
   * and hand them off). Participants of the phase cut short see their deadline pass.
   */
  hurry(phase: PhaseName): void {
    const to = this.indexOf(phase);
    if (!this.running || to <= this.skipTo) return;
    this.skipTo = to;
    if (this.current && this.current.index < to) this.current.deadline.expireNow();
  }

  private indexOf(phase: PhaseName): number {
    return this.opts.table.findIndex((p) => p.name === phase);
  }

  get started(): boolean {
    return this.running !== undefined;
  }

  private async run(reason: string, budgetMs: number): Promise<DrainReport> {
    const { clock, table, budget } = this.opts;
    const t0 = clock.now();
    const overallDeadline = t0 + budgetMs;
    const phases: PhaseRecord[] = [];
    const reserveOf = (p: PhaseSpec) => p.reserveMs + (p.holdsFinalScrape ? budget.finalScrapeMs : 0);
    for (const [i, spec] of table.entries()) {
      const start = clock.now();
      if (i < this.skipTo) {
        phases.push({
          name: spec.name,
          startedAtMs: Math.round(start - t0),
          durationMs: 0,
          allowedMs: 0,
          participants: [],
          skipped: true,
        });
        continue;
      }
      const laterReserve = table.slice(i + 1).reduce((sum, p) => sum + reserveOf(p), 0);
      const latest = overallDeadline - laterReserve;
      const cap =
        spec.cap === 'propagation' ? budget.propagationMs : spec.cap === 'reserve' ? reserveOf(spec) : Number.POSITIVE_INFINITY;
      const at = Math.max(start, Math.min(start + cap, latest));
      this.transition(spec.name);
      this.opts.observer.phaseStarted(spec.name);
      const deadline = deadlineAt(clock, at);
      this.current = { index: i, deadline };
      const outcomes = await Promise.all(
        this.participants.filter((p) => p.phase === spec.name).map((p) => this.runOne(p, deadline)),
      );
      if (spec.cap === 'propagation') await sleep(clock, at - clock.now(), deadline.signal);
      deadline.dispose();
      this.current = undefined;
      const record: PhaseRecord = {
        name: spec.name,
        startedAtMs: Math.round(start - t0),
        durationMs: Math.round(clock.now() - start),
        allowedMs: Math.round(at - start),
        participants: outcomes,
      };
      phases.push(record);
      this.opts.observer.phaseEnded(record);
    }
    const totalMs = Math.round(clock.now() - t0);
    this.transition('exited');
    return {
      replica: this.opts.replica,
      reason,
      budgetMs,
      totalMs,
      withinBudget: totalMs <= budgetMs,
      phases,
    };
  }

  private async runOne(p: Participant, deadline: ReturnType<typeof deadlineAt>): Promise<ParticipantOutcome> {
    const { clock } = this.opts;
    const started = clock.now();
    const ms = () => Math.round(clock.now() - started);
    let outcome: ParticipantOutcome;
    try {
      const work = Promise.resolve().then(() => p.close(deadline));
      const timedOut = untilAborted(deadline.signal).then(() => 'timeout' as const);
      const result = await Promise.race([work, timedOut]);
      if (result === 'timeout') {
        // Its promise may still settle later; swallow that so it cannot crash the process.
        work.catch(() => undefined);
        outcome = { name: p.name, outcome: 'timeout', ms: ms() };
      } else {
        outcome = { name: p.name, outcome: 'ok', ms: ms(), ...(result ? { detail: result } : {}) };
      }
    } catch (err) {
      outcome = { name: p.name, outcome: 'error', ms: ms(), error: errorMessage(err) };
    }
    if (outcome.outcome !== 'ok') this.opts.observer.participantFailed(p.phase, outcome);
    return outcome;
  }

  private transition(state: LifecycleState): void {
    this.state = state;
    for (const l of this.listeners) {
      try {
        l(state);
      } catch {
        // One failing listener never stops the others or the sequence.
      }
    }
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
