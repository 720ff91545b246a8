import type { StepRow, TaskRow } from './store.js';

/** The public JSON shape of a task and its steps (GET /v1/tasks/:id and the SSE events). */
export function stepView(s: StepRow) {
  return { index: s.idx, kind: s.kind, output: s.output, replica: s.replica, epoch: s.epoch, created_at: s.created_at };
}

export function taskView(t: TaskRow, steps: readonly StepRow[]) {
  return {
    id: t.id,
    status: t.status,
    max_steps: t.max_steps,
    steps: steps.map(stepView),
    result: t.result ?? null,
    ...(t.error ? { error: t.error } : {}),
    attempts: t.attempts,
    created_at: t.created_at,
    updated_at: t.updated_at,
  };
}
