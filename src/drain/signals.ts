import type { Logger } from '../log/logger.js';
import type { ShutdownBudget } from './budget.js';
import type { DrainEngine } from './engine.js';
import { writeTerminationMessage } from './report.js';

export interface ShutdownTrigger {
  /**
   * Starts the same drain a SIGTERM starts, for a failure the replica cannot serve through; the
   * process then exits 1, so the pod's last state says Error rather than Completed.
   */
  shutdown(reason: string): void;
}

/**
 * SIGTERM and SIGINT start the drain once; a repeated signal is logged and ignored. When the
 * sequence ends the report goes to the log and the termination message, and the process exits
 * 0 (1 when a failure started it).
 */
export function handleShutdownSignals(opts: {
  engine: DrainEngine;
  budget: ShutdownBudget;
  logger: Logger;
  terminationMessagePath: string;
}): ShutdownTrigger {
  const { engine, budget, logger } = opts;
  const shutdown = (signal: string, exitCode: 0 | 1) => {
    if (engine.started) {
      logger.warn({ signal }, 'shutdown already in progress; signal ignored');
      return;
    }
    if (engine.view.current === 'starting') {
      // Nothing was accepted yet, so there is nothing to drain or hand off.
      logger.info({ signal }, 'signal during start-up: exiting');
      process.exit(exitCode);
    }
    logger.info({ signal, budgetMs: budget.totalMs }, 'shutdown started');
    // The engine never waits past a deadline, but if the event loop were held hostage the
    // promise still stands: exit before the kubelet's SIGKILL.
    setTimeout(() => {
      logger.error('drain overran its budget; exiting now');
      process.exit(exitCode);
    }, budget.totalMs).unref();
    void engine.start(signal).then((report) => {
      const written = writeTerminationMessage(opts.terminationMessagePath, report);
      logger.info({ report, terminationMessage: written }, 'drain report');
      process.exit(exitCode);
    });
  };
  process.on('SIGTERM', (signal) => shutdown(signal, 0));
  process.on('SIGINT', (signal) => shutdown(signal, 0));
  return { shutdown: (reason) => shutdown(reason, 1) };
}
