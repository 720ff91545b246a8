/**
 * Task states and the rules between them, shared by the HTTP layer and the worker.
 * queued → running → completed | failed | cancelled; running may go back to unleased (handoff,
 * expiry) and be claimed again, still `running`, by any replica.
 */
export const TASK_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const FINAL_STATUSES = ['completed', 'failed', 'cancelled'] as const satisfies readonly TaskStatus[];
export type FinalStatus = (typeof FINAL_STATUSES)[number];

export function isFinal(status: TaskStatus): status is FinalStatus {
  return (FINAL_STATUSES as readonly TaskStatus[]).includes(status);
}

/** Steps retried this many times in a row (one `attempts` count per task) before it fails. */
export const MAX_STEP_ATTEMPTS = 3;

/** Backoff before retry `attempt` (1-based): 250 ms, 500 ms, 1 s, capped at 4 s. */
export function retryDelayMs(attempt: number): number {
  return Math.min(4_000, 250 * 2 ** Math.max(0, attempt - 1));
}
