import { listenHttp } from '../shared/http/listen-http.js';
import { createServer } from 'node:http';
import type { AgentPhase } from './lease-loop.js';
import type { AgentMetrics } from './metrics.js';
import { TEXT_EXPOSITION_CONTENT_TYPE } from '../shared/metrics/text-exposition.js';

/** What the health endpoints read and what /prestop triggers: the lease loop. */
export interface HealthSource {
  readonly currentPhase: AgentPhase;
  /** Keys this agent held may still be loaded in the client. */
  readonly removalUnproven: boolean;
  stop(): Promise<{ handedBack: boolean }>;
}

/**
 * /healthz is red while the agent is fenced or failed (its keys were taken away and not yet regained),
 * and while keys it held may still be loaded in the client (removal not proven); /readyz is green only
 * while the keys are in place and the lease is live. POST /prestop is what the validator client
 * container's preStop hook calls: the keys are taken out of the client and handed back, and it answers
 * 200 only once removal is proven and the pool has them back; anything else is an error status.
 * /metrics serves the agent's Prometheus metrics.
 */
export async function startHealthServer(
  host: string,
  port: number,
  loop: HealthSource,
  metrics: AgentMetrics,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path === '/metrics') {
      response.writeHead(200, { 'content-type': TEXT_EXPOSITION_CONTENT_TYPE }).end(metrics.registry.render());
      return;
    }
    if (path === '/prestop') {
      // A Kubernetes httpGet hook cannot POST; it marks itself with a header that a stray GET lacks.
      const fromHook = request.method === 'GET' && request.headers['x-keylease-hook'] === 'prestop';
      if (request.method !== 'POST' && !fromHook) {
        response.writeHead(405, { 'content-type': 'text/plain', allow: 'POST' }).end('use POST /prestop (or GET with the header x-keylease-hook: prestop)\n');
        return;
      }
      loop.stop().then(
        ({ handedBack }) =>
          handedBack
            ? response.writeHead(200, { 'content-type': 'text/plain' }).end('keys removed and handed back\n')
            : response.writeHead(503, { 'content-type': 'text/plain' }).end('keys removed, but the pool did not take them back: they stay quarantined until this pod is gone; see the agent logs\n'),
        () => response.writeHead(500, { 'content-type': 'text/plain' }).end('handover failed; see the agent logs\n'),
      );
      return;
    }
    const current = loop.currentPhase;
    let ok: boolean;
    if (path === '/healthz') ok = current !== 'fenced' && current !== 'failed' && !loop.removalUnproven;
    else if (path === '/readyz') ok = current === 'holding';
    else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('try /healthz, /readyz or /metrics\n');
      return;
    }
    response.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${current}${loop.removalUnproven ? ' (removal from the client not proven)' : ''}\n`);
  });
  return listenHttp(server, host, port);
}
