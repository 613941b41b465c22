import { join } from 'node:path';
import { eventually } from './coordinator-fixture.js';
import { freePorts } from './ports.js';
import { KeyleaseProcess, TSX_ENTRY } from './processes.js';
import { requestJson } from '../../shared/http/json-request.js';

export interface ReplicaSpec {
  readonly id: string;
  readonly dataDir: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly raftPort: number;
  readonly grpcEndpoint: string;
  readonly httpBase: string;
}

export interface RaftStatusJson {
  replicaId: string;
  role: string;
  lead: string | null;
  term: number;
  commit: number;
  applied: number;
  confState: { voters: string[]; learners: string[] };
}

/** Fast elections for tests: 50 ms ticks, 10 ticks (0.5-1 s) to an election. */
export const TEST_TICK_MS = 50;

/** A cluster of real coordinator processes on loopback, each with its own data directory. */
export class TestCluster {
  readonly processes = new Map<string, KeyleaseProcess>();

  /** With TLS the replicas serve HTTPS: set this to the CA that signed them (it may change in a test). */
  httpsCaPem: Buffer | null;

  /** Node options put before the CLI for every replica started from now on (a benchmark's --cpu-prof). */
  nodeArgs: readonly string[] = [];

  /** The node arguments that start the CLI: its TypeScript through tsx, or the built one (builtCliEntry). */
  entry: readonly string[] = TSX_ENTRY;

  /** Environment variables every replica started from now on gets beside this process's own. */
  env: NodeJS.ProcessEnv = {};

  private constructor(
    readonly replicas: readonly ReplicaSpec[],
    private readonly secrets: { kekFile: string; mnemonicFile: string },
    private readonly extra: readonly string[],
    httpsCaPem: Buffer | null,
  ) {
    this.httpsCaPem = httpsCaPem;
  }

  static async create(dir: string, secrets: { kekFile: string; mnemonicFile: string }, ids: readonly string[], extra: readonly string[] = [], options: { httpsCaPem?: Buffer } = {}): Promise<TestCluster> {
    const ports = await freePorts(ids.length * 3);
    const scheme = options.httpsCaPem ? 'https' : 'http';
    const replicas = ids.map((id, i) => {
      const [grpcPort, httpPort, raftPort] = ports.slice(i * 3, i * 3 + 3) as [number, number, number];
      return { id, dataDir: join(dir, id), grpcPort, httpPort, raftPort, grpcEndpoint: `127.0.0.1:${grpcPort}`, httpBase: `${scheme}://127.0.0.1:${httpPort}` };
    });
    return new TestCluster(replicas, secrets, extra, options.httpsCaPem ?? null);
  }

  spec(id: string): ReplicaSpec {
    return this.replicas.find((r) => r.id === id)!;
  }

  get agentEndpoints(): string {
    return this.replicas.map((r) => r.grpcEndpoint).join(',');
  }

  /** Starts (or restarts) replica `id`; `peers` defaults to every other replica of the cluster. */
  /** `peerAddress` routes this replica's traffic to a peer elsewhere (through a proxy, say). */
  async start(id: string, options: { join?: boolean; peers?: readonly ReplicaSpec[]; extra?: readonly string[]; peerAddress?: (peer: ReplicaSpec) => string } = {}): Promise<KeyleaseProcess> {
    const me = this.spec(id);
    const address = options.peerAddress ?? ((r: ReplicaSpec) => `127.0.0.1:${r.raftPort}`);
    const peers = (options.peers ?? this.replicas.filter((r) => r.id !== id)).map((r) => `${r.id}=${address(r)}`).join(',');
    const proc = new KeyleaseProcess([
      'coordinator',
      '--data-dir', me.dataDir,
      '--kek-file', this.secrets.kekFile,
      '--mnemonic-file', this.secrets.mnemonicFile,
      '--replica-id', id,
      '--peers', peers,
      '--grpc-listen', me.grpcEndpoint,
      '--http-listen', `127.0.0.1:${me.httpPort}`,
      '--raft-listen', `127.0.0.1:${me.raftPort}`,
      '--tick-ms', String(TEST_TICK_MS),
      '--log-level', 'debug',
      ...(options.join ? ['--join'] : []),
      ...this.extra,
      ...(options.extra ?? []),
    ], this.env, [...this.nodeArgs, ...this.entry]);
    this.processes.set(id, proc);
    await proc.waitForMessage('coordinator ready', 30_000);
    return proc;
  }

  async startAll(): Promise<void> {
    await Promise.all(this.replicas.map((r) => this.start(r.id)));
  }

  async status(id: string): Promise<RaftStatusJson | null> {
    try {
      const response = await requestJson(`${this.spec(id).httpBase}/raft/status`, { caPem: this.httpsCaPem, timeoutMs: 1000 });
      return response.status === 200 ? (JSON.parse(response.text) as RaftStatusJson) : null;
    } catch {
      return null;
    }
  }

  /** Waits until exactly one live replica among `among` says it leads, and the others agree. */
  async leader(among: readonly string[] = this.replicas.map((r) => r.id), timeoutMs = 15_000): Promise<string> {
    return eventually(
      async () => {
        const statuses = (await Promise.all(among.map((id) => this.status(id)))).filter((s): s is RaftStatusJson => s !== null);
        const leaders = statuses.filter((s) => s.role === 'leader');
        if (leaders.length !== 1) return undefined;
        const leader = leaders[0]!;
        return statuses.every((s) => s.lead === leader.replicaId && s.term === leader.term) ? leader.replicaId : undefined;
      },
      timeoutMs,
      `one leader among ${among.join(', ')}`,
    );
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.processes.values()].map((p) => p.kill('SIGKILL')));
  }
}
