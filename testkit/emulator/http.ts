import type http from 'node:http';

export class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const LIMIT = 8 * 1024 * 1024;

/** Reads a JSON body; an empty body is `{}`. */
export async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > LIMIT) throw new BodyError(413, 'Request body too large.');
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    // OpenAI's wording for a body that is not JSON (https://platform.openai.com/docs/guides/error-codes).
    throw new BodyError(400, 'We could not parse the JSON body of your request. The API expects a JSON payload.');
  }
}

export function sendJson(res: http.ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}) {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(payload));
}

export function startSse(res: http.ServerResponse) {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
  });
  res.flushHeaders();
}

/** One SSE frame; Responses events also carry `event: <type>` as OpenAI sends them. */
export function writeSse(res: http.ServerResponse, data: unknown, event?: string) {
  if (res.destroyed || res.writableEnded) return;
  res.write(`${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
}

/** Signals when the client goes away before the response was fully sent. */
export function clientGone(res: http.ServerResponse): AbortSignal {
  const ac = new AbortController();
  // The client may already be gone by the time the request has been parsed and planned.
  if (!res.socket || res.socket.destroyed) ac.abort();
  res.on('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  return ac.signal;
}

/**
 * Cuts the connection mid-response the way a dying peer does: what was already written still reaches
 * the client, then the socket closes without the response's end.
 */
export function cutConnection(res: http.ServerResponse) {
  if (res.socket) res.socket.destroySoon();
  else res.destroy();
}
