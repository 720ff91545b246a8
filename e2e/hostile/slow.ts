/**
 * Slow clients on raw sockets: a body or headers trickled one byte at a time, and hundreds of
 * connections that never send anything. Each measures how long the replica holds the socket.
 */
import net from 'node:net';
import { sleep } from './harness.js';

export interface TrickleResult {
  readonly name: string;
  readonly intervalMs: number;
  readonly bytesSent: number;
  /** Seconds from connect to the first response byte, if any came. */
  readonly answeredAfterS?: number;
  readonly status?: number;
  /** Seconds from connect until the server closed the socket, if it did before the cap. */
  readonly closedAfterS?: number;
  /** How long the server kept the socket open, at least (the cap when it never let go). */
  readonly heldAtLeastS: number;
  readonly capped: boolean;
}

/**
 * Sends `head` at once, then `drip` one byte per `intervalMs`, until the server closes the
 * socket or `capMs` passes (then we hang up).
 */
export async function trickle(opts: {
  name: string;
  port: number;
  head: string;
  drip: string;
  intervalMs: number;
  capMs: number;
}): Promise<TrickleResult> {
  const t0 = performance.now();
  const socket = net.connect(opts.port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let answeredAt: number | undefined;
  let closedAt: number | undefined;
  let data = '';
  let sent = 0;
  socket.setEncoding('latin1');
  socket.on('data', (c: string) => {
    answeredAt ??= performance.now();
    data += c;
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closedAt ??= performance.now();
      resolve();
    }),
  );
  socket.once('end', () => {
    closedAt ??= performance.now();
  });
  socket.write(opts.head);
  const deadline = t0 + opts.capMs;
  let i = 0;
  while (closedAt === undefined && performance.now() < deadline) {
    const wait = Math.min(opts.intervalMs, deadline - performance.now());
    await Promise.race([sleep(wait), closed]);
    if (closedAt !== undefined || performance.now() >= deadline) break;
    if (i < opts.drip.length && !socket.destroyed) {
      socket.write(opts.drip[i++]!);
      sent++;
    }
  }
  const capped = closedAt === undefined;
  socket.destroy();
  const s = (t: number | undefined) => (t === undefined ? undefined : Number(((t - t0) / 1000).toFixed(1)));
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1];
  return {
    name: opts.name,
    intervalMs: opts.intervalMs,
    bytesSent: sent,
    answeredAfterS: s(answeredAt),
    status: status ? Number(status) : undefined,
    closedAfterS: s(closedAt),
    heldAtLeastS: s(closedAt) ?? Number((opts.capMs / 1000).toFixed(1)),
    capped,
  };
}

/** The three trickle probes of the review: body with and without a key, and headers. */
export function trickleProbes(port: number, key: string, capMs: number, intervalMs = 5_000): Promise<TrickleResult[]> {
  const body = JSON.stringify({ prompt: 'a body that arrives one byte every five seconds', max_steps: 2 });
  const head = (auth: string) =>
    `POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  return Promise.all([
    trickle({
      name: 'body 1 byte / 5 s, with a valid key',
      port,
      head: head(`Authorization: Bearer ${key}\r\n`),
      drip: body,
      intervalMs,
      capMs,
    }),
    trickle({ name: 'body 1 byte / 5 s, without a key', port, head: head(''), drip: body, intervalMs, capMs }),
    trickle({
      name: 'headers 1 byte / 5 s',
      port,
      head: 'GET /v1/tasks/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ',
      drip: 'a'.repeat(1000),
      intervalMs,
      capMs,
    }),
  ]);
}

export interface IdleResult {
  readonly attempted: number;
  readonly connected: number;
  readonly refusedOrFailed: number;
  /** Open right after connecting and a short settle. */
  readonly openAfterSettle: number;
  /** Still open when the probe ended (`heldS` after connecting). */
  readonly openAtEnd: number;
  readonly heldS: number;
  /** Seconds after connecting at which the server closed the first and the median of those it closed. */
  readonly firstClosedAfterS?: number;
  readonly medianClosedAfterS?: number;
}

/**
 * Opens `n` connections that never send a byte and keeps them until `holdMs`; `during` runs
 * while they are all open (to check the replica still answers and read its gauges).
 */
export async function idleConnections(port: number, n: number, holdMs: number, during: () => Promise<void>): Promise<IdleResult> {
  const t0 = performance.now();
  const sockets: net.Socket[] = [];
  const closedAfter: number[] = [];
  let failed = 0;
  let ending = false;
  const open = (): Promise<void> =>
    new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      let connected = false;
      s.on('error', () => undefined);
      s.once('connect', () => {
        connected = true;
        sockets.push(s);
        resolve();
      });
      s.once('close', () => {
        if (!connected) {
          failed++;
          resolve();
        } else if (!ending) closedAfter.push((performance.now() - t0) / 1000);
      });
    });
  for (let i = 0; i < n; i += 100) await Promise.all(Array.from({ length: Math.min(100, n - i) }, open));
  await sleep(500);
  const openAfterSettle = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
  await during();
  const left = holdMs - (performance.now() - t0);
  if (left > 0) await sleep(left);
  const openAtEnd = sockets.length - closedAfter.length;
  ending = true;
  for (const s of sockets) s.destroy();
  const sorted = [...closedAfter].sort((a, b) => a - b);
  const r1 = (x: number | undefined) => (x === undefined ? undefined : Number(x.toFixed(1)));
  return {
    attempted: n,
    connected: sockets.length,
    refusedOrFailed: failed,
    openAfterSettle,
    openAtEnd,
    heldS: Number(((performance.now() - t0) / 1000).toFixed(1)),
    firstClosedAfterS: r1(sorted[0]),
    medianClosedAfterS: r1(sorted[Math.floor(sorted.length / 2)]),
  };
}
