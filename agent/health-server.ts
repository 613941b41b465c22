import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentPhase } from './lease-loop.js';
import type { AgentMetrics } from './metrics.js';

/**
 * /healthz is red while the agent is fenced or failed (its keys were taken away and not yet regained);
 * /readyz is green only while the keys are written and the lease is live. POST /prestop is what the
 * validator client container's preStop hook calls: the keys are taken out of the client and released,
 * and the answer comes only once the release is committed, so the keys are free when the pod is gone.
 * /metrics serves the agent's Prometheus metrics.
 */
export async function startHealthServer(
  host: string,
  port: number,
  phase: () => AgentPhase,
  prestop: () => Promise<{ released: boolean }>,
  metrics: AgentMetrics,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n'),
      );
      return;
    }
    if (path === '/prestop') {
      // A Kubernetes httpGet hook cannot POST; it marks itself with a header that a stray GET lacks.
      const fromHook = request.method === 'GET' && request.headers['x-keylease-hook'] === 'prestop';
      if (request.method !== 'POST' && !fromHook) {
        response.writeHead(405, { 'content-type': 'text/plain', allow: 'POST' }).end('use POST /prestop (or GET with the header x-keylease-hook: prestop)\n');
        return;
      }
      prestop().then(
        ({ released }) => response.writeHead(200, { 'content-type': 'text/plain' }).end(released ? 'keys removed and released\n' : 'keys removed; the lease will expire and the keys cool down\n'),
        () => response.writeHead(500, { 'content-type': 'text/plain' }).end('handover failed; see the agent logs\n'),
      );
      return;
    }
    const current = phase();
    let ok: boolean;
    if (path === '/healthz') ok = current !== 'fenced' && current !== 'failed';
    else if (path === '/readyz') ok = current === 'holding';
    else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('try /healthz, /readyz or /metrics\n');
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
