import type { Logger } from '../log/logger.js';
import type { Clock } from '../time/clock.js';
import type { ShutdownBudget } from './budget.js';
import type { DrainEngine } from './engine.js';
import { writeTerminationMessage } from './report.js';

export interface ShutdownTrigger {
  /**
   * Starts the same drain a SIGTERM starts, for a failure the replica cannot serve through; the
   * process then exits 1, so the pod's last state says Error rather than Completed.
   */
  shutdown(reason: string): void;
  /**
   * An error nothing caught: the process cannot be trusted to serve on, but what it holds can
   * still be handed off. Skips straight to `handoff` (streams flushed and released, tasks
   * released) with a short budget, then exits 1 — instead of leaving every lease to expire.
   */
  fatal(err: unknown): void;
}

/** What the fatal path gets: enough for handoff, release and exit's reserves, not a full drain. */
export const FATAL_BUDGET_MS = 3_000;

/** Where signals come from; `process` in the service, an EventEmitter in tests. */
export interface SignalSource {
  on(signal: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface ShutdownSignalsOptions {
  readonly engine: DrainEngine;
  readonly budget: ShutdownBudget;
  readonly logger: Logger;
  readonly terminationMessagePath: string;
  readonly clock: Clock;
  /** Ends the process; injected (as lightship does) so the sequence is testable in-process. */
  readonly exit: (code: 0 | 1) => void;
  readonly signals: SignalSource;
}

/**
 * SIGTERM and SIGINT start the drain once; a repeated signal is logged and ignored. When the
 * sequence ends the report goes to the log and the termination message, and the process exits
 * 0 (1 when a failure started it).
 */
export function handleShutdownSignals(opts: ShutdownSignalsOptions): ShutdownTrigger {
  const { engine, budget, logger, clock } = opts;
  let exited = false;
  let failed = false;
  // The drain's end and the overrun guard can both fire; the process ends once, and with 1 once
  // anything fatal happened on the way.
  const exit = (code: 0 | 1) => {
    if (exited) return;
    exited = true;
    opts.exit(failed ? 1 : code);
  };
  let interrupts = 0;
  const shutdown = (signal: string, exitCode: 0 | 1, start: { from?: 'handoff'; budgetMs?: number } = {}) => {
    if (engine.started) {
      logger.warn({ signal }, 'shutdown already in progress; signal ignored');
      return;
    }
    if (engine.view.current === 'starting') {
      // Nothing was accepted yet, so there is nothing to drain or hand off.
      logger.info({ signal }, 'signal during start-up: exiting');
      return exit(exitCode);
    }
    const budgetMs = start.budgetMs ?? budget.totalMs;
    logger.info({ signal, budgetMs }, 'shutdown started');
    // The engine never waits past a deadline, but if the event loop were held hostage the
    // promise still stands: exit before the kubelet's SIGKILL.
    const cancelOverrun = clock.setTimer(budgetMs, () => {
      logger.error('drain overran its budget; exiting now');
      exit(exitCode);
    });
    engine.start(signal, start).then(
      (report) => {
        cancelOverrun();
        const written = writeTerminationMessage(opts.terminationMessagePath, report);
        logger.info({ report, terminationMessage: written }, 'drain report');
        exit(exitCode);
      },
      (err: unknown) => {
        // Only a defect in the sequence itself gets here: nothing more can be drained.
        logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'shutdown sequence failed; exiting now');
        exit(1);
      },
    );
  };
  opts.signals.on('SIGTERM', (signal) => shutdown(signal, 0));
  opts.signals.on('SIGINT', (signal) => {
    // The kubelet never sends SIGINT: a second one is a person at a terminal who does not want to
    // wait for streams to finish. They are handed off instead, so nothing is lost.
    if (++interrupts === 2 && engine.started) {
      logger.warn({ signal }, 'second interrupt: skipping to handoff');
      return engine.hurry('handoff');
    }
    shutdown(signal, 0);
  });
  return {
    shutdown: (reason) => shutdown(reason, 1),
    fatal(err) {
      failed = true;
      logger.fatal(
        { err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) },
        'uncaught error; handing off and exiting',
      );
      if (engine.started) {
        engine.hurry('handoff');
        // The overrun guard of the running sequence still stands; this one is shorter.
        clock.setTimer(FATAL_BUDGET_MS, () => exit(1));
      } else {
        shutdown('fatal-error', 1, { from: 'handoff', budgetMs: FATAL_BUDGET_MS });
      }
    },
  };
}
