/**
 * One HTTP/1.1 exchange over a raw TCP socket, byte for byte, so the sweep can send what no
 * well-behaved client would (bad framing, duplicate headers, invalid bytes) and see exactly how
 * the server answers: status, headers, body, or a hang or a reset.
 */
import net from 'node:net';

export interface RawRequest {
  readonly method: string;
  /** Request target, sent as is (no encoding applied). */
  readonly path: string;
  /** Extra headers, in order; duplicates allowed. Host, Connection and Content-Length are added unless present. */
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: Buffer | string;
  /** Which bearer key to send; default `A`. */
  readonly auth?: 'A' | 'B' | 'none';
  /** Do not add Content-Length for the body (the headers frame it, or nothing does). */
  readonly noContentLength?: boolean;
  /** The exact bytes to send instead of building a request from the fields above. */
  readonly raw?: Buffer | string;
}

export interface Keys {
  readonly A: string;
  readonly B: string;
}

export type OutcomeClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'hang' | 'reset';

export interface Outcome {
  readonly class: OutcomeClass;
  readonly status?: number;
  readonly ms: number;
  readonly headers: Record<string, string>;
  readonly contentType?: string;
  /** The body is `{"error":{"code","message"}}`. */
  readonly jsonError: boolean;
  readonly code?: string;
  readonly message?: string;
  readonly body: string;
  /** Socket error code (ECONNRESET, EPIPE) when the connection broke. */
  readonly socketError?: string;
}

/** Serialises a request to bytes. */
export function encodeRequest(req: RawRequest, keys: Keys): Buffer {
  if (req.raw !== undefined) return Buffer.isBuffer(req.raw) ? req.raw : Buffer.from(req.raw, 'latin1');
  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');
  const headers: [string, string][] = [];
  const given = new Set((req.headers ?? []).map(([k]) => k.toLowerCase()));
  if (!given.has('host')) headers.push(['Host', '127.0.0.1']);
  const auth = req.auth ?? 'A';
  if (auth !== 'none' && !given.has('authorization')) headers.push(['Authorization', `Bearer ${keys[auth]}`]);
  for (const [k, v] of req.headers ?? []) headers.push([k, v]);
  if (body !== undefined && !req.noContentLength && !given.has('content-length') && !given.has('transfer-encoding')) {
    headers.push(['Content-Length', String(body.length)]);
  }
  if (!given.has('connection')) headers.push(['Connection', 'close']);
  const head = `${req.method} ${req.path} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
}

interface Head {
  status: number;
  headers: Record<string, string>;
  bodyStart: number;
}

function parseHead(buf: Buffer): Head | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i < 0) continue;
    const k = l.slice(0, i).trim().toLowerCase();
    headers[k] = headers[k] === undefined ? l.slice(i + 1).trim() : `${headers[k]}, ${l.slice(i + 1).trim()}`;
  }
  return { status: Number(statusLine?.split(' ')[1]), headers, bodyStart: end + 4 };
}

/** Decodes a chunked body; undefined until the terminating chunk has arrived. */
function dechunk(buf: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', i);
    if (eol < 0) return undefined;
    const size = parseInt(buf.subarray(i, eol).toString('latin1'), 16);
    if (Number.isNaN(size)) return Buffer.concat(parts);
    if (size === 0) return Buffer.concat(parts);
    if (buf.length < eol + 2 + size + 2) return undefined;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
}

/** The body once complete (by Content-Length, chunks, or the connection closing). */
function completeBody(head: Head, buf: Buffer, closed: boolean): Buffer | undefined {
  const rest = buf.subarray(head.bodyStart);
  if (head.status === 204 || head.status === 304 || (head.status >= 100 && head.status < 200)) return Buffer.alloc(0);
  const len = head.headers['content-length'];
  if (len !== undefined) return rest.length >= Number(len) ? rest.subarray(0, Number(len)) : closed ? rest : undefined;
  if (/chunked/i.test(head.headers['transfer-encoding'] ?? '')) return dechunk(rest) ?? (closed ? rest : undefined);
  return closed ? rest : undefined;
}

function classify(status: number | undefined): OutcomeClass {
  if (status === undefined || !Number.isFinite(status)) return 'reset';
  return `${Math.floor(status / 100)}xx` as OutcomeClass;
}

/**
 * Sends one request and reads one response. An event stream counts as answered once its headers
 * arrive (the socket is then closed by us). No response within `timeoutMs` is a hang; the
 * connection closing or breaking before a status line is a reset.
 */
export function exchange(
  port: number,
  req: RawRequest,
  keys: Keys,
  opts: { timeoutMs?: number; sseGraceMs?: number; method?: string } = {},
): Promise<Outcome> {
  const bytes = encodeRequest(req, keys);
  const isHead = (opts.method ?? req.method).toUpperCase() === 'HEAD';
  const t0 = performance.now();
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let closed = false;
    let socketError: string | undefined;
    let done = false;
    let sseTimer: NodeJS.Timeout | undefined;
    const finish = (hang = false) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(sseTimer);
      socket.destroy();
      const ms = performance.now() - t0;
      const head = parseHead(buf);
      if (!head) {
        resolve({
          class: hang ? 'hang' : 'reset',
          ms,
          headers: {},
          jsonError: false,
          body: buf.toString('utf8').slice(0, 300),
          socketError,
        });
        return;
      }
      const body = (isHead ? Buffer.alloc(0) : completeBody(head, buf, true)) ?? Buffer.alloc(0);
      const text = body.toString('utf8');
      let parsed: { error?: { code?: unknown; message?: unknown } } | undefined;
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch {
        parsed = undefined;
      }
      const err = parsed?.error;
      const jsonError =
        /^application\/json/i.test(head.headers['content-type'] ?? '') &&
        typeof err === 'object' &&
        err !== null &&
        typeof err.code === 'string' &&
        typeof err.message === 'string';
      const sse = /text\/event-stream/i.test(head.headers['content-type'] ?? '');
      resolve({
        // A body cut off mid-way after a status line (and not an event stream we closed) is a hang or a reset, not an answer.
        class: !sse && hang && completeBody(head, buf, false) === undefined ? 'hang' : classify(head.status),
        status: head.status,
        ms,
        headers: head.headers,
        contentType: head.headers['content-type'],
        jsonError,
        code: jsonError ? (err.code as string) : undefined,
        message: jsonError ? (err.message as string) : undefined,
        body: text.slice(0, 500),
        socketError,
      });
    };
    const timer = setTimeout(() => finish(true), opts.timeoutMs ?? 10_000);
    const check = () => {
      const head = parseHead(buf);
      if (!head) return;
      if (head.status === 100) {
        // `Expect: 100-continue` interim response: drop it and wait for the real one.
        buf = buf.subarray(head.bodyStart);
        return check();
      }
      if (/text\/event-stream/i.test(head.headers['content-type'] ?? '')) {
        // Let the first frames arrive, then hang up: the case is answered.
        sseTimer ??= setTimeout(() => finish(), opts.sseGraceMs ?? 30);
        return;
      }
      if (isHead || completeBody(head, buf, closed) !== undefined) finish();
    };
    socket.on('connect', () => {
      socket.write(bytes, (err) => {
        if (err) socketError ??= (err as NodeJS.ErrnoException).code;
      });
    });
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      check();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      socketError ??= e.code;
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
  });
}
