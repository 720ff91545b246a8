import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses one HTTP/1.1 response (Content-Length framed) from raw bytes. */
export function parseRawResponse(raw: string): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`incomplete response: ${JSON.stringify(raw.slice(0, 200))}`);
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body: raw.slice(end + 4) };
}

/** A raw TCP connection to drive HTTP byte by byte, and to see exactly how the server closes it. */
export async function rawConnection(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let data = '';
  let closedBy: 'end' | 'error' | undefined;
  let errorCode: string | undefined;
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((w) => w());
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => {
    data += c;
    wake();
  });
  socket.on('end', () => {
    closedBy ??= 'end';
    wake();
  });
  socket.on('error', (e: NodeJS.ErrnoException) => {
    closedBy = 'error';
    errorCode = e.code;
    wake();
  });
  socket.on('close', wake);
  const until = (pred: () => boolean, timeoutMs = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; received ${JSON.stringify(data.slice(0, 300))}`)), timeoutMs);
      const check = () => {
        if (pred()) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        }
      };
      waiters.add(check);
      check();
    });
  return {
    socket,
    write: (s: string) => socket.write(s),
    get data() {
      return data;
    },
    get closedBy() {
      return closedBy;
    },
    get errorCode() {
      return errorCode;
    },
    /** Waits for a complete Content-Length response and returns it, leaving later bytes. */
    async response(timeoutMs?: number): Promise<RawResponse> {
      await until(() => {
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) return false;
        const len = /content-length:\s*(\d+)/i.exec(data.slice(0, end));
        return len ? data.length >= end + 4 + Number(len[1]) : closedBy !== undefined;
      }, timeoutMs);
      const end = data.indexOf('\r\n\r\n');
      const len = Number(/content-length:\s*(\d+)/i.exec(data.slice(0, end))?.[1] ?? data.length - end - 4);
      const raw = data.slice(0, end + 4 + len);
      data = data.slice(raw.length);
      return parseRawResponse(raw);
    },
    closed: (timeoutMs?: number) => until(() => socket.destroyed || closedBy !== undefined, timeoutMs),
  };
}
