import type { Server, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Tracks every socket of a server and how many requests each one is serving, so shutdown can
 * close idle keep-alive sockets at once, let busy ones finish, and destroy what is left at the
 * deadline (the approach of http-terminator, kept here because it must cooperate with the
 * drain phases rather than own the shutdown).
 */
export class ConnectionTracker {
  private readonly active = new Map<Socket, number>();
  private closing = false;
  private readonly idleWaiters = new Set<() => void>();

  constructor(private readonly server: Server) {
    server.on('connection', (socket: Socket) => {
      this.active.set(socket, 0);
      socket.once('close', () => {
        this.active.delete(socket);
        this.notify();
      });
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const socket = req.socket;
      this.active.set(socket, (this.active.get(socket) ?? 0) + 1);
      res.once('close', () => {
        const left = (this.active.get(socket) ?? 1) - 1;
        if (this.active.has(socket)) this.active.set(socket, left);
        // After intake stops, a socket that finished its last request is closed cleanly
        // (its response carried Connection: close) instead of idling until the deadline.
        if (this.closing && left === 0) socket.end();
        this.notify();
      });
    });
  }

  get requestsInFlight(): number {
    let n = 0;
    for (const count of this.active.values()) n += count;
    return n;
  }

  get sockets(): number {
    return this.active.size;
  }

  /** Stops the listener and ends idle keep-alive sockets; busy ones close after their response. */
  stopAccepting(): void {
    if (this.closing) return;
    this.closing = true;
    this.server.close();
    // Node's parser knows a socket that is midway through sending request headers is not idle;
    // such a request completes and gets the 503 + Connection: close answer instead of a reset.
    this.server.closeIdleConnections();
  }

  /**
   * Sockets still open that we have not ended: after intake stops these are the ones midway
   * through a request, whose answer (503 or the response) must still be written.
   */
  private get socketsNotEnded(): number {
    let n = 0;
    for (const socket of this.active.keys()) if (!socket.destroyed && !socket.writableEnded) n++;
    return n;
  }

  /**
   * Resolves when no request is in flight and, once intake has stopped, no socket is midway
   * through sending one — or when `signal` aborts.
   */
  whenIdle(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        const idle = this.requestsInFlight === 0 && (!this.closing || this.socketsNotEnded === 0);
        if (idle || signal.aborted) {
          this.idleWaiters.delete(check);
          signal.removeEventListener('abort', check);
          resolve();
        }
      };
      this.idleWaiters.add(check);
      signal.addEventListener('abort', check, { once: true });
      check();
    });
  }

  /** Destroys every remaining socket; the last resort at the end of the budget. */
  destroyAll(): number {
    const n = this.active.size;
    for (const socket of this.active.keys()) socket.destroy();
    return n;
  }

  private notify(): void {
    for (const waiter of [...this.idleWaiters]) waiter();
  }
}
