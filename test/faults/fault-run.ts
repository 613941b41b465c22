import { randomUUID } from 'node:crypto';
import { CoordinatorCallError, CoordinatorClient } from '../../agent/coordinator-client.js';
import { eventually, writeSecrets } from '../support/coordinator-fixture.js';
import { TEST_TICK_MS, TestCluster, type RaftStatusJson } from '../support/cluster-fixture.js';
import { intBetween, pick, seededRandom } from '../support/prng.js';
import { LinkProxy } from '../support/tcp-proxy.js';
import type { ClientOperation } from './history.js';

const IDS = ['r1', 'r2', 'r3'] as const;
const ELECTION_TIMEOUT_MS = TEST_TICK_MS * 10;

export interface FaultRunOptions {
  readonly dir: string;
  readonly seed: number;
  readonly durationMs: number;
  readonly clients: number;
  readonly podsPerClient: number;
  readonly log: (line: string) => void;
}

export interface FaultRunResult {
  readonly history: ClientOperation[];
  readonly faults: string[];
  readonly finalStatuses: RaftStatusJson[];
}

/**
 * Three real coordinator processes whose Raft links each pass through a proxy, clients claiming and
 * releasing throughout, and a seeded schedule of faults: SIGKILL (leader, follower, all), SIGSTOP past
 * the election timeout, and symmetric or one-way partitions. Ends healed and converged.
 */
export async function runFaults(options: FaultRunOptions): Promise<FaultRunResult> {
  const random = seededRandom(options.seed);
  const secrets = await writeSecrets(options.dir);
  // Leases never expire during a run: the clients are not agents and do not renew.
  const cluster = await TestCluster.create(options.dir, secrets, IDS, ['--lease-ttl-ms', '3600000', '--log-level', 'info']);
  const links = new Map<string, LinkProxy>();
  for (const from of IDS) for (const to of IDS) if (from !== to) links.set(`${from}>${to}`, await LinkProxy.start(cluster.spec(to).raftPort));
  const start = (id: string) => cluster.start(id, { peerAddress: (peer) => `127.0.0.1:${links.get(`${id}>${peer.id}`)!.port}` });
  const faults: string[] = [];
  const history: ClientOperation[] = [];
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const note = (fault: string) => {
    faults.push(`${(now() / 1000).toFixed(1)}s ${fault}`);
    options.log(`  ${faults[faults.length - 1]}`);
  };
  let running = true;
  const client = new CoordinatorClient(cluster.replicas.map((r) => r.grpcEndpoint));
  try {
    await Promise.all(IDS.map(start));
    await cluster.leader();
    const workers = Array.from({ length: options.clients }, (_, w) => runClient(`c${w}`, options.podsPerClient, client, history, now, () => running, seededRandom(options.seed * 1000 + w)));
    const down = new Set<string>();
    const paused = new Set<string>();
    const deadline = options.durationMs;
    while (now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, intBetween(random, 800, 2000)));
      const leader = await currentLeader(cluster);
      const roll = random();
      if (down.size > 0 || paused.size > 0 || [...links.values()].some((l) => l.isCut)) {
        // Heal what is broken before the next fault, so the cluster spends time both ways.
        for (const id of paused) cluster.processes.get(id)!.child.kill('SIGCONT');
        for (const id of down) await start(id);
        for (const link of links.values()) link.setCut(false);
        note(`heal (restarted ${[...down].join(',') || '-'}, resumed ${[...paused].join(',') || '-'})`);
        down.clear();
        paused.clear();
      } else if (roll < 0.2 && leader) {
        await cluster.processes.get(leader)!.kill('SIGKILL');
        down.add(leader);
        note(`SIGKILL leader ${leader}`);
      } else if (roll < 0.35) {
        const follower = pick(random, IDS.filter((id) => id !== leader));
        await cluster.processes.get(follower)!.kill('SIGKILL');
        down.add(follower);
        note(`SIGKILL follower ${follower}`);
      } else if (roll < 0.45) {
        await Promise.all(IDS.map((id) => cluster.processes.get(id)!.kill('SIGKILL')));
        IDS.forEach((id) => down.add(id));
        note('SIGKILL all three');
      } else if (roll < 0.6 && leader) {
        cluster.processes.get(leader)!.child.kill('SIGSTOP');
        paused.add(leader);
        note(`SIGSTOP leader ${leader}`);
        await new Promise((resolve) => setTimeout(resolve, ELECTION_TIMEOUT_MS * 3));
      } else if (roll < 0.8) {
        const isolated = leader ?? pick(random, IDS);
        for (const [name, link] of links) if (name.startsWith(`${isolated}>`) || name.endsWith(`>${isolated}`)) link.setCut(true);
        note(`partition: ${isolated} isolated both ways`);
      } else {
        const isolated = leader ?? pick(random, IDS);
        for (const [name, link] of links) if (name.startsWith(`${isolated}>`)) link.setCut(true);
        note(`partition: ${isolated} cannot send (one-way)`);
      }
    }
    for (const id of [...IDS]) cluster.processes.get(id)!.child.kill('SIGCONT');
    for (const link of links.values()) link.setCut(false);
    for (const id of IDS) if (cluster.processes.get(id)!.child.exitCode !== null || cluster.processes.get(id)!.child.signalCode !== null) await start(id);
    note('final heal');
    running = false;
    await Promise.all(workers);
    const finalStatuses = await converged(cluster);
    return { history, faults, finalStatuses };
  } finally {
    running = false;
    client.close();
    await cluster.stopAll();
    await Promise.all([...links.values()].map((l) => l.close()));
  }
}

async function currentLeader(cluster: TestCluster): Promise<string | null> {
  for (const id of IDS) if ((await cluster.status(id))?.role === 'leader') return id;
  return null;
}

/** Waits until every replica has applied the same index and holds the same state. */
async function converged(cluster: TestCluster): Promise<RaftStatusJson[]> {
  return eventually(
    async () => {
      const statuses = await Promise.all(
        IDS.map(async (id) => {
          const response = await fetch(`${cluster.spec(id).httpBase}/raft/status?hash`, { signal: AbortSignal.timeout(2000) });
          return (await response.json()) as RaftStatusJson & { stateHash: string };
        }),
      );
      const leader = statuses.find((s) => s.role === 'leader');
      if (!leader || statuses.some((s) => s.applied !== leader.commit || s.stateHash !== leader.stateHash)) return undefined;
      return statuses;
    },
    30_000,
    'the replicas to converge on one applied state',
  );
}

/**
 * One client: claims or releases for its own pods, recording every call. An answer is definite only
 * if the coordinator answered (a result or a refusal); a timeout or an unavailable replica leaves the
 * operation indeterminate, since it may have been committed anyway.
 */
/** An operation that certainly had no effect, and whose answer says nothing of the state, is no operation. */
function forget(history: ClientOperation[], op: ClientOperation): void {
  history.splice(history.lastIndexOf(op), 1);
}

/** Fewer attempts while no leader answers, each of them a possibly indeterminate operation. */
function backOff(random: () => number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, intBetween(random, 100, 300)));
}

async function runClient(
  clientId: string,
  pods: number,
  client: CoordinatorClient,
  history: ClientOperation[],
  now: () => number,
  running: () => boolean,
  random: () => number,
): Promise<void> {
  const held = new Map<string, string>();
  while (running()) {
    const podName = `${clientId}-pod-${intBetween(random, 0, pods - 1)}`;
    const leaseId = held.get(podName);
    const call = now();
    if (leaseId === undefined) {
      const op: ClientOperation = { clientId, input: { kind: 'claim', podName, count: 1 }, call, return: null, output: null };
      history.push(op);
      try {
        const granted = await client.claim(podName, 'default', 1, 2000);
        op.return = now();
        op.output = { ok: true, leaseId: granted.leaseId, pubKeys: granted.keys.map((k) => k.pubKey) };
        held.set(podName, granted.leaseId);
      } catch (error) {
        if (error instanceof CoordinatorCallError && error.refusalCode) {
          op.return = now();
          op.output = { ok: false, code: error.refusalCode };
        } else if (error instanceof CoordinatorCallError && error.notApplied) forget(history, op);
        await backOff(random);
      }
    } else {
      const requestId = randomUUID();
      const op: ClientOperation = { clientId, input: { kind: 'release', podName, leaseId, requestId }, call, return: null, output: null };
      history.push(op);
      try {
        await client.release(podName, leaseId, 2000, { requestId });
        op.return = now();
        op.output = { ok: true };
        held.delete(podName);
      } catch (error) {
        if (error instanceof CoordinatorCallError && error.refusalCode) {
          op.return = now();
          op.output = { ok: false, code: error.refusalCode };
          held.delete(podName);
        } else if (error instanceof CoordinatorCallError && error.notApplied) forget(history, op);
        // Otherwise indeterminate: the next claim of this pod returns the lease if it is still held.
        else held.delete(podName);
        await backOff(random);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, intBetween(random, 5, 40)));
  }
}
