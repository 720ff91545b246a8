import type { Logger } from '../log/logger.js';

/** How often an idle replica looks for a detached stream nobody generates (a released or expired lease). */
const POLL_MIN_MS = 250;
const POLL_JITTER_MS = 250;

/**
 * Takes over detached streams (background responses, AI SDK chats) that no replica generates:
 * released at a handoff, or left when their replica died. Unlike a stream tied to its clients,
 * nobody may come back for one, so a replica must go and claim it, as the task worker claims
 * tasks. It claims while this replica serves and has room, one after another while there are
 * any, then waits a poll interval.
 */
export class DetachedWorker {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly adoptOne: () => Promise<boolean>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => void this.poll(), POLL_MIN_MS + Math.random() * POLL_JITTER_MS);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    try {
      while (this.running && (await this.adoptOne()));
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'claiming a detached stream failed; retrying on the next poll');
    } finally {
      this.schedule();
    }
  }
}
