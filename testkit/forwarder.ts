import net from 'node:net';

export interface Forwarder {
  /** New connections go to this port from now on; open ones stay where they are. */
  point(port: number): void;
  /** Resolves with the forwarder's own URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/**
 * A TCP forwarder standing in for a Kubernetes Service: new connections go to whichever replica
 * it points at, open ones stay with theirs, and a replica that dies cuts its clients' connections.
 */
export function forwarder(): Forwarder {
  let target = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
    // A killed replica resets its sockets: the client must see its connection cut too.
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return {
    point: (port) => void (target = port),
    listen: () =>
      new Promise<string>((resolve) =>
        server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`)),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
