/**
 * A keep-alive HTTP/1.1 connection for load generation, for benches whose load generator shares
 * the machine with the service it measures. Measured on the 2-core dev VM with batch-32
 * embedding requests: node:http cost the load generator ~700-1,100 µs of CPU per request (its
 * parser, streams and agent); this, ~170-225 µs per base64 answer and ~400-530 µs per 55 kB
 * float JSON one, mostly the kernel's loopback copy. One request at a time per connection;
 * responses are framed by Content-Length only (what the service sends for JSON), and anything
 * else is an error rather than a misread.
 */
import net from 'node:net';

export interface LeanResponse {
  readonly status: number;
  readonly body: Buffer;
}

const HEAD_END = Buffer.from('\r\n\r\n');

export class LeanConnection {
  readonly #socket: net.Socket;
  readonly #host: string;
  #chunks: Buffer[] = [];
  #have = 0;
  /** Where the response being read ends, once its head has arrived. */
  #frame: { status: number; bodyAt: number; end: number } | undefined;
  #waiting: { resolve(r: LeanResponse): void; reject(err: Error): void } | undefined;

  private constructor(socket: net.Socket, host: string) {
    this.#socket = socket;
    this.#host = host;
    socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#have += chunk.length;
      this.#tryFrame();
    });
    const fail = (err: Error) => {
      const w = this.#waiting;
      this.#waiting = undefined;
      w?.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed by the server')));
  }

  static open(url: string): Promise<LeanConnection> {
    const { hostname, port, host } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), hostname);
      socket.setNoDelay(true);
      socket.once('error', reject).once('connect', () => {
        socket.off('error', reject);
        resolve(new LeanConnection(socket, host));
      });
    });
  }

  /** A request's bytes, built once and sent as often as wanted. */
  request(path: string, json: string): Buffer {
    const body = Buffer.from(json);
    const head = `POST ${path} HTTP/1.1\r\nhost: ${this.#host}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
    return Buffer.concat([Buffer.from(head, 'latin1'), body]);
  }

  send(request: Buffer): Promise<LeanResponse> {
    if (this.#waiting) return Promise.reject(new Error('one request at a time per connection'));
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#socket.write(request);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #tryFrame(): void {
    if (this.#frame === undefined) {
      const data = this.#joined();
      const headEnd = data.indexOf(HEAD_END);
      if (headEnd < 0) return;
      const head = data.toString('latin1', 0, headEnd);
      const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
      if (length === undefined)
        return void this.#socket.destroy(new Error(`response without Content-Length: ${head.split('\r\n')[0]}`));
      const bodyAt = headEnd + HEAD_END.length;
      this.#frame = { status: Number(head.slice(9, 12)), bodyAt, end: bodyAt + Number(length) };
    }
    const { status, bodyAt, end } = this.#frame;
    if (this.#have < end) return;
    if (this.#have > end)
      return void this.#socket.destroy(new Error('bytes after the response: the server answered something not asked'));
    const data = this.#joined();
    this.#chunks = [];
    this.#have = 0;
    this.#frame = undefined;
    const w = this.#waiting;
    this.#waiting = undefined;
    w?.resolve({ status, body: data.subarray(bodyAt, end) });
  }

  /** The bytes received so far as one buffer (copied once per response, not per chunk). */
  #joined(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }
}
