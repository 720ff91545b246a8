import net from 'node:net';

/**
 * A TCP forwarder standing in for a Kubernetes Service: each new connection goes to whichever
 * replica it points at then, and a connection whose replica dies (reset or closed) is cut on the
 * client's side too, as a kube-proxy'd connection would be.
 */
export interface Forwarder {
  point(port: number): void;
  /** Listens on a free port and resolves with its origin. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export function forwarder(): Forwarder {
  let target = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return {
    point: (port) => void (target = port),
    listen: () =>
      new Promise((resolve) =>
        server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`)),
      ),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
