import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A one-way link between two replicas: A dials the proxy instead of B, so cutting it drops what A
 * sends to B (B's own stream to A is another proxy). Cutting closes live connections and refuses new
 * ones, as a partition would; healing lets A reconnect.
 */
export class LinkProxy {
  private readonly sockets = new Set<Socket>();
  private cut = false;
  /** Connections let through so far: a test can tell a fresh connection from a reused one. */
  acceptedConnections = 0;
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<LinkProxy> {
    let proxy: LinkProxy | null = null;
    const server = createServer((client) => {
      if (!proxy || proxy.cut) {
        client.destroy();
        return;
      }
      proxy.acceptedConnections++;
      const upstream = connect(targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        proxy.sockets.add(socket);
        socket.on('close', () => proxy?.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new LinkProxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  get isCut(): boolean {
    return this.cut;
  }

  setCut(cut: boolean): void {
    this.cut = cut;
    if (cut) for (const socket of this.sockets) socket.destroy();
  }

  close(): Promise<void> {
    this.setCut(true);
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
