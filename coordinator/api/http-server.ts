import { routeQuarantineAdmin } from './quarantine-admin.js';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { ReloadingTls } from '../../shared/tls/reloading-tls.js';
import type { TlsMaterial } from '../../shared/tls/tls-material.js';
import type { AddressInfo } from 'node:net';
import { assignmentHistory, type HistoryQuery, type PodRef, type ReadonlyCoreState } from '../core/index.js';
import type { Logger } from '../../shared/log/logger.js';
import { NotLeaderError } from '../replication/errors.js';
import { routeClusterAdmin, type ClusterAdmin } from './cluster-admin.js';
import { routeKeymanagerAdmin, type KeymanagerAdminOptions } from './keymanager-admin.js';
import { assignmentsJson, buildAssignments, type ReadFrom } from './assignments.js';
import { renderAssignmentsPage } from './assignments-page.js';
import type { CoordinatorMetrics } from './metrics.js';

export interface HttpServerHandle {
  readonly port: number;
  close(): Promise<void>;
}

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  /**
   * Serve HTTPS with the replica's certificate (kept current as it rotates): the admin Keymanager API
   * carries keystores, their passwords and the admin token, which must not cross the network in clear.
   */
  readonly tls: ReloadingTls | null;
  /** The state as the leader confirms it (linearizable); a follower rejects with NotLeaderError. */
  readonly readState: () => Promise<ReadonlyCoreState>;
  /** This replica's applied state, without asking anyone: what a follower shows when asked. */
  readonly localState: () => ReadonlyCoreState;
  readonly leaseExpiry: (podName: string) => number | null;
  readonly orphaned: (pod: PodRef) => boolean;
  readonly isReady: () => boolean;
  /** True while the replica is short of CPU: pages that read every lease or key answer 503 instead. */
  readonly shedPages?: () => boolean;
  readonly wallMs: () => number;
  readonly metrics: CoordinatorMetrics;
  readonly logger: Logger;
  /** Raft role, term and indices of this replica, for /raft/status; absent on a single replica. */
  readonly raftStatus?: (withStateHash: boolean) => unknown;
  /** Membership and leadership operations, behind the admin bearer token; absent on a single replica. */
  readonly clusterAdmin?: { admin: ClusterAdmin; token: () => string };
  /** The Keymanager API for the pool (/eth/v1/keystores), behind the same token. */
  readonly keymanagerAdmin: KeymanagerAdminOptions;
}

/** /assignments (HTML or JSON), /metrics, /healthz, /readyz. */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServerHandle> {
  const listener: RequestListener = (request, response) => {
    route(request, response, options).catch((error: unknown) => {
      if (error instanceof NotLeaderError) {
        const leader = error.leaderHint ? ` (the leader takes agents at ${error.leaderHint})` : '';
        send(response, 503, 'text/plain', `this replica is not the leader${leader}: ask the leader's HTTP endpoint; /raft/status shows who leads\n`);
        return;
      }
      options.logger.error('http request failed', { path: request.url, error });
      if (!response.headersSent) send(response, 500, 'text/plain', 'internal error; see the coordinator logs\n');
      else response.destroy();
    });
  };
  const { tls } = options;
  let server: Server;
  let unsubscribe = () => {};
  if (tls) {
    const contextOf = (material: TlsMaterial) => ({ cert: material.certPem!, key: material.keyPem!, minVersion: 'TLSv1.2' as const });
    const secure = createHttpsServer(contextOf(tls.current), listener);
    unsubscribe = tls.subscribe((material) => secure.setSecureContext(contextOf(material)));
    server = secure;
  } else {
    server = createServer(listener);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        unsubscribe();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function route(request: IncomingMessage, response: ServerResponse, options: HttpServerOptions): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const path = url.pathname;
  if (options.clusterAdmin && (await routeClusterAdmin(request, response, path, options.clusterAdmin.admin, options.clusterAdmin.token))) return;
  if (await routeKeymanagerAdmin(request, response, url, options.keymanagerAdmin)) return;
  if (await routeQuarantineAdmin(request, response, path, options.keymanagerAdmin)) return;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(response, 405, 'text/plain', `method ${request.method} not allowed on ${path}: use GET\n`, { allow: 'GET, HEAD' });
    return;
  }
  if ((path === '/assignments' || path === '/assignments/history') && options.shedPages?.()) {
    send(response, 503, 'text/plain', 'this replica is short of CPU and answers lease renewals first: retry the page in a few seconds\n', { 'retry-after': '5' });
    return;
  }
  switch (path) {
    case '/healthz':
      send(response, 200, 'text/plain', 'ok\n');
      return;
    case '/readyz':
      if (options.isReady()) send(response, 200, 'text/plain', 'ready\n');
      else send(response, 503, 'text/plain', 'not ready: this replica cannot serve claims yet\n');
      return;
    case '/metrics':
      send(response, 200, options.metrics.registry.contentType, await options.metrics.registry.metrics());
      return;
    case '/raft/status':
      if (!options.raftStatus) send(response, 404, 'text/plain', 'this coordinator runs as a single replica, without Raft\n');
      else send(response, 200, 'application/json', JSON.stringify(options.raftStatus(url.searchParams.has('hash')), null, 2) + '\n');
      return;
    case '/assignments/history': {
      const query = historyQuery(url.searchParams);
      if (typeof query === 'string') {
        send(response, 400, 'text/plain', query + '\n');
        return;
      }
      const { state, readFrom } = await stateFor(url, options);
      const records = assignmentHistory(state.history, query);
      const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
      send(response, 200, 'application/json', JSON.stringify({ readFrom, records: records.map((r) => ({ ...r, from: iso(r.fromMs), to: iso(r.toMs) })) }, null, 2) + '\n', { 'x-keylease-read-from': readFrom });
      return;
    }
    case '/assignments': {
      const { state, readFrom } = await stateFor(url, options);
      const doc = buildAssignments(state, readFrom, options.wallMs(), options.leaseExpiry, options.orphaned);
      if (wantsJson(request)) send(response, 200, 'application/json', JSON.stringify(assignmentsJson(doc), null, 2) + '\n', { 'x-keylease-read-from': readFrom });
      else send(response, 200, 'text/html; charset=utf-8', renderAssignmentsPage(doc), { 'x-keylease-read-from': readFrom });
      return;
    }
    default:
      send(response, 404, 'text/plain', `no such page ${path}: try /assignments, /assignments/history, /metrics, /healthz or /readyz\n`);
  }
}

/**
 * The leader answers from state it has confirmed with a quorum. A follower answers from what it has
 * applied, which may lag the leader by a moment, and says so (as etcd's serializable reads do): the
 * client Service sends people to any replica, and a page that works two times in three helps no one.
 * `?consistency=linearizable` refuses that and asks for the leader's answer.
 */
async function stateFor(url: URL, options: HttpServerOptions): Promise<{ state: ReadonlyCoreState; readFrom: ReadFrom }> {
  try {
    return { state: await options.readState(), readFrom: 'leader' };
  } catch (error) {
    if (!(error instanceof NotLeaderError) || url.searchParams.get('consistency') === 'linearizable') throw error;
    return { state: options.localState(), readFrom: 'follower' };
  }
}

/** ?pubkey=0x…&pod=NAME&at=ISO-time-or-ms; at least one of pubkey and pod. */
function historyQuery(params: URLSearchParams): HistoryQuery | string {
  const pubKey = params.get('pubkey')?.toLowerCase() ?? undefined;
  const podName = params.get('pod') ?? undefined;
  const at = params.get('at');
  if (!pubKey && !podName) return 'give ?pubkey=0x… or ?pod=NAME (and optionally &at=2026-01-01T00:00:00Z)';
  if (pubKey && !/^0x[0-9a-f]{96}$/.test(pubKey)) return `pubkey ${JSON.stringify(pubKey.slice(0, 100))} is not 0x and 96 hex digits`;
  let atMs: number | undefined;
  if (at !== null) {
    atMs = /^\d+$/.test(at) ? Number(at) : Date.parse(at);
    if (!Number.isFinite(atMs)) return `at ${JSON.stringify(at.slice(0, 40))} is neither an ISO time nor milliseconds since the epoch`;
  }
  return { ...(pubKey ? { pubKey } : {}), ...(podName ? { podName } : {}), ...(atMs !== undefined ? { atMs } : {}) };
}

function wantsJson(request: IncomingMessage): boolean {
  const accept = request.headers.accept ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}

function send(response: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
