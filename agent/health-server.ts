import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentPhase } from './lease-loop.js';

/**
 * /healthz is red while the agent is fenced or failed (its keys were taken away and not yet regained);
 * /readyz is green only while the keys are written and the lease is live.
 */
export async function startHealthServer(host: string, port: number, phase: () => AgentPhase): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const current = phase();
    let ok: boolean;
    if (path === '/healthz') ok = current !== 'fenced' && current !== 'failed';
    else if (path === '/readyz') ok = current === 'holding';
    else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('try /healthz or /readyz\n');
      return;
    }
    response.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${current}\n`);
  });
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
