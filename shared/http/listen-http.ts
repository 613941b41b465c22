import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A listening HTTP server: the port it got (port 0 picks one) and a close that also ends idle keep-alive connections. */
export interface ListeningHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function listenHttp(server: Server, host: string, port: number): Promise<ListeningHttpServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
