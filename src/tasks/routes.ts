import type { Request, Response, Router } from 'express';
import { idempotencyKey, type IdempotencyKeys } from '../db/idempotency.js';
import { z } from 'zod';
import { conflict, notFound } from '../errors/errors.js';
import { ownerOf } from '../http/auth.js';
import { noteInLogContext } from '../log/context.js';
import { route } from '../http/routes.js';
import { resumeCursor } from '../http/sse.js';
import { text } from '../http/validate.js';
import type { Tombstones } from '../retention/tombstones.js';
import type { TaskMetrics } from './metrics.js';
import type { TaskEvents } from './events.js';
import { DEFAULT_MAX_STEPS, MAX_STEPS, MIN_STEPS } from './plan.js';
import { isTaskId, type TaskStore } from './store.js';
import { taskView } from './view.js';
import type { TaskWorker } from './worker.js';

const createTask = z.object({
  prompt: text({ max: 8000, nonBlank: true }),
  max_steps: z.number().int().min(MIN_STEPS).max(MAX_STEPS).default(DEFAULT_MAX_STEPS),
});

/**
 * POST /v1/tasks (with `Idempotency-Key`: a retry returns the task the first request queued),
 * GET and DELETE /v1/tasks/:id, GET /v1/tasks/:id/events (SSE).
 */
export function mountTaskRoutes(
  api: Router,
  deps: {
    store: TaskStore;
    worker: TaskWorker;
    events: TaskEvents;
    metrics: TaskMetrics;
    idempotency: IdempotencyKeys;
    tombstones: Tombstones;
  },
): void {
  const { store, worker, events, metrics, idempotency } = deps;
  /** 404, or 410 for the owner's task that retention deleted. */
  const missing = (id: string, owner: string) => deps.tombstones.missing('task', id, owner);

  route(api, '/tasks', {
    post: async (req, res) => {
      const body = createTask.parse(req.body ?? {});
      const owner = ownerOf(res);
      const key = idempotencyKey(req, body);
      // A retry with the key of a task already queued returns that task, as it is now.
      const existing = key && (await idempotency.find(owner, key, 'task'));
      if (existing) return void (await answerExisting(res, existing, owner));
      let id: string;
      try {
        id = await store.create(
          owner,
          body.prompt,
          body.max_steps,
          key && ((c, taskId) => idempotency.record(c, owner, key, 'task', taskId)),
        );
      } catch (err) {
        // Two requests with one key at once: the other recorded it first.
        const raced = key && (await idempotency.find(owner, key, 'task'));
        if (raced) return void (await answerExisting(res, raced, owner));
        throw err;
      }
      noteInLogContext({ taskId: id });
      res.status(202).location(`/v1/tasks/${id}`).json({ id, status: 'queued' });
    },
  });

  async function answerExisting(res: Response, id: string, owner: string): Promise<void> {
    const task = await store.get(id, owner);
    if (!task) throw notFound('task');
    res.status(202).location(`/v1/tasks/${id}`).set('Idempotent-Replayed', 'true').json({ id, status: task.status });
  }

  route(api, '/tasks/:id', {
    get: async (req, res) => {
      const [id, owner] = [taskId(req), ownerOf(res)];
      const task = await store.get(id, owner);
      if (!task) throw await missing(id, owner);
      res.json(taskView(task, await store.steps(task.id)));
    },
    delete: async (req, res) => {
      const id = taskId(req);
      const owner = ownerOf(res);
      if (await store.cancel(id, owner)) {
        metrics.total.inc({ outcome: 'cancelled' });
        worker.cancelLocal(id);
      }
      const task = await store.get(id, owner);
      if (!task) throw await missing(id, owner);
      if (task.status !== 'cancelled')
        throw conflict('task_finished', `task is already ${task.status}; only queued or running tasks can be cancelled`);
      res.json(taskView(task, await store.steps(task.id)));
    },
  });

  route(api, '/tasks/:id/events', {
    get: async (req, res) => {
      const after = resumeAfter(req);
      const [id, owner] = [taskId(req), ownerOf(res)];
      const task = await store.get(id, owner);
      if (!task) throw await missing(id, owner);
      await events.serve(res, task, after);
    },
  });
}

/** A well-formed task id from the path; anything else cannot name a task, so it is a 404. */
function taskId(req: Request): string {
  const id = String(req.params.id);
  if (!isTaskId(id)) throw notFound('task');
  noteInLogContext({ taskId: id });
  return id;
}

/** The last step a (re)connecting client has seen; -1 for none. */
export const resumeAfter = (req: Pick<Request, 'get' | 'query'>): number =>
  resumeCursor(req, { min: -1, code: 'invalid_after', meaning: 'a step index' }) ?? -1;
