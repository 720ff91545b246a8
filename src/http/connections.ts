import type { Server, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Quiescence } from '../time/quiescence.js';

const OBSERVER = Symbol('lastcall.observer');

/**
 * Marks a long-lived response that only watches work done elsewhere (task progress events):
 * draining does not wait for it, since nothing is lost by ending it; its owner ends it with a
 * resumable event in `handoff`.
 */
export function markObserver(res: ServerResponse): void {
  (res as ServerResponse & { [OBSERVER]?: true })[OBSERVER] = true;
}
const isObserver = (res: ServerResponse) => (res as ServerResponse & { [OBSERVER]?: true })[OBSERVER] === true;

/**
 * Tracks every socket of a server and how many requests each one is serving, so shutdown can
 * close idle keep-alive sockets at once, let busy ones finish, and destroy what is left at the
 * deadline (the approach of http-terminator, kept here because it must cooperate with the
 * drain phases rather than own the shutdown).
 */
export class ConnectionTracker {
  private readonly active = new Map<Socket, number>();
  private readonly responses = new Map<ServerResponse, IncomingMessage>();
  private closing = false;
  /** Sockets that have started at least one request. */
  private readonly requested = new WeakSet<Socket>();
  private readonly quiet = new Quiescence(() => this.workInFlight === 0 && (!this.closing || this.socketsMidRequest === 0));

  constructor(
    private readonly server: Server,
    opts: {
      /** A connection that has not started a request by then is closed (Node times out slow requests, not silent sockets). */
      readonly firstRequestMs: number;
      readonly counted: (open: number) => void;
    },
  ) {
    server.on('connection', (socket: Socket) => {
      this.active.set(socket, 0);
      opts.counted(this.active.size);
      const silent = setTimeout(() => {
        if (this.active.get(socket) === 0 && !this.requested.has(socket)) socket.destroy();
      }, opts.firstRequestMs);
      silent.unref();
      socket.once('close', () => {
        clearTimeout(silent);
        this.active.delete(socket);
        opts.counted(this.active.size);
        this.quiet.changed();
      });
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const socket = req.socket;
      this.requested.add(socket);
      this.active.set(socket, (this.active.get(socket) ?? 0) + 1);
      this.responses.set(res, req);
      res.once('close', () => {
        this.responses.delete(res);
        const left = (this.active.get(socket) ?? 1) - 1;
        if (this.active.has(socket)) this.active.set(socket, left);
        // After intake stops, a socket that finished its last request is closed cleanly
        // (its response carried Connection: close) instead of idling until the deadline.
        if (this.closing && left === 0) socket.end();
        this.quiet.changed();
      });
    });
  }

  get requestsInFlight(): number {
    return this.responses.size;
  }

  /** Requests draining waits for: all but observers. */
  private get workInFlight(): number {
    let n = 0;
    for (const res of this.responses.keys()) if (!isObserver(res)) n++;
    return n;
  }

  /** Requests whose body is still arriving (a slow or stalled client): nothing has been done for them yet. */
  incomplete(): { req: IncomingMessage; res: ServerResponse }[] {
    return [...this.responses].filter(([res, req]) => !req.complete && !res.headersSent).map(([res, req]) => ({ req, res }));
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
   * Sockets still open that we have not ended and that serve no request: after intake stops
   * these are the ones midway through sending one, whose answer (503) must still be written.
   */
  private get socketsMidRequest(): number {
    let n = 0;
    for (const [socket, count] of this.active) if (count === 0 && !socket.destroyed && !socket.writableEnded) n++;
    return n;
  }

  /**
   * Resolves when no request but observers is in flight and, once intake has stopped, no socket
   * is midway through sending one — or when `signal` aborts.
   */
  whenIdle(signal: AbortSignal): Promise<void> {
    return this.quiet.wait(signal);
  }

  /** Destroys every remaining socket; the last resort at the end of the budget. */
  destroyAll(): number {
    const n = this.active.size;
    for (const socket of this.active.keys()) socket.destroy();
    return n;
  }
}
