/**
 * Commits per second and latency on a three-replica Raft cluster of real coordinator processes on
 * loopback (gRPC between replicas, durable classic-level writes on each). Each claim and each release
 * is one committed log entry. When etcd is on PATH, the same number of writes at the same concurrency
 * go to a three-member etcd on the same machine, running beside ours and taking turns with it.
 * Then failover: the time from SIGKILL of the leader to the next committed claim.
 * Usage: npm run bench:raft [-- --cycles N --concurrency C[,C…] --cpu-prof DIR]
 * With --cpu-prof, every replica runs under `node --cpu-prof` (profiles written to DIR), is stopped with
 * SIGTERM after the load instead of the failover test, and a summary of where its time went is printed.
 */
import { claimAsSigner, releaseAsSigner } from '../support/proven-release.js';
import type { ClaimedKeys } from '../../agent/coordinator-client.js';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { eventually, writeSecrets } from '../support/coordinator-fixture.js';
import { TestCluster } from '../support/cluster-fixture.js';
import { tempDir } from '../support/temp-dir.js';
import { EtcdCluster, etcdAvailable } from './etcd-cluster.js';
import { benchNumber, benchOption } from './bench-options.js';
import { formatProfileSummary, monotonicUs, summariseCpuProfile, type MonotonicWindow } from './cpu-profile-summary.js';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const cycles = benchNumber('cycles', 600);
const concurrencies = benchOption('concurrency', '1,16,64').split(',').map(Number);
const profileDir = benchOption('cpu-prof', '') === '' ? null : resolve(benchOption('cpu-prof', ''));

interface Row {
  readonly concurrency: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

/** Functions whose inclusive time the profile summary shows: the replica's Raft driver, storage and transport. */
const PROFILED_FUNCTIONS = ['drain', 'kick', 'persist', 'write', 'send', 'receive', 'step', 'apply', 'propose', 'claim', 'release', 'parse', 'stringify'];

/** Each depth is measured in this many stretches per system, alternating between them. */
const STRETCHES = 6;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** Latencies (ms) and busy time of calls measured in one or more stretches. */
class Measurement {
  readonly samples: number[] = [];
  seconds = 0;

  /** Runs operations `from`..`to`-1 of `op`, `concurrency` at a time. */
  async run(concurrency: number, from: number, to: number, op: (n: number, worker: number) => Promise<void>): Promise<void> {
    let next = from;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async (_, worker) => {
        while (next < to) {
          const n = next++;
          const t0 = performance.now();
          await op(n, worker);
          this.samples.push(performance.now() - t0);
        }
      }),
    );
    this.seconds += (performance.now() - started) / 1000;
  }

  row(concurrency: number): Row {
    const sorted = [...this.samples].sort((a, b) => a - b);
    return { concurrency, perSecond: sorted.length / this.seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  }
}

/** Stops every replica with SIGTERM (so each writes its profile) and summarises the profiles over `window`. */
async function stopAndSummariseProfiles(cluster: TestCluster, leader: string, directory: string, window: MonotonicWindow): Promise<string[]> {
  const roles = new Map<number, string>();
  for (const [id, proc] of cluster.processes) roles.set(proc.child.pid!, `${id} (${id === leader ? 'leader' : 'follower'})`);
  await Promise.all([...cluster.processes.values()].map((p) => p.kill('SIGTERM')));
  const summaries: string[] = [];
  for (const file of await readdir(directory)) {
    const role = roles.get(Number(/^CPU\.[^.]+\.[^.]+\.(\d+)\.0\./.exec(file)?.[1])); // main thread only
    if (role) summaries.push(formatProfileSummary(`${role}: ${join(directory, file)}`, summariseCpuProfile(join(directory, file), PROFILED_FUNCTIONS, window)));
  }
  return summaries;
}

/** SIGKILLs the leader while a client keeps claiming through every replica: ms to the next committed claim. */
async function measureFailover(cluster: TestCluster): Promise<number> {
  const everywhere = new CoordinatorClient(cluster.replicas.map((r) => r.grpcEndpoint));
  try {
    const current = await cluster.leader();
    const killedAt = performance.now();
    await cluster.processes.get(current)!.kill('SIGKILL');
    for (let attempt = 0; performance.now() - killedAt < 30_000; attempt++) {
      try {
        await everywhere.claim(`after-failover-${attempt}`, 'default', 1, 1000);
        return performance.now() - killedAt;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    return NaN;
  } finally {
    everywhere.close();
  }
}

const dir = await tempDir('bench-raft');
const secrets = await writeSecrets(dir.path);
// Production timing (100 ms ticks); enough keys for every concurrent pod are derived before measuring;
// released keys return at once (no cooling), as they do for agents that hand back slashing protection.
// Shedding stays off: under CPU pressure the leader admits only 8 claims at once and refuses the rest
// (COORDINATOR_BUSY), and this bench measures commits at 16 and 64 in flight, not admission.
const cluster = await TestCluster.create(dir.path, secrets, ['r1', 'r2', 'r3'], ['--tick-ms', '100', '--lease-ttl-ms', '600000', '--cooling-ms', '0', '--max-keys-per-claim', '256', '--shed-above-ms', '10000', '--log-level', 'info']);
const ours: Row[] = [];
// Both clusters run side by side and take turns at each depth, so the ratio compares the two under the
// same load from whatever else shares the machine.
const etcdCluster = etcdAvailable() ? await EtcdCluster.start(dir.path) : null;
const etcd: Row[] | null = etcdCluster ? [] : null;
let failoverMs = NaN;
const profiles: string[] = [];
try {
  // Each replica writes its profile when it exits on SIGTERM.
  if (profileDir) cluster.nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  await cluster.startAll();
  const leader = await cluster.leader();
  const client = new CoordinatorClient([cluster.spec(leader).grpcEndpoint]);
  const maxConcurrency = Math.max(...concurrencies);
  process.stderr.write(`deriving ${maxConcurrency} keys…\n`);
  const warmup = await eventually(() => claimAsSigner(client, 'warmup', maxConcurrency, 120_000), 120_000, 'the warm-up claim');
  await releaseAsSigner(client, 'warmup', warmup, 10_000);
  const loadStartedUs = monotonicUs();
  for (const concurrency of concurrencies) {
    // Each worker alternates claim and release of its own pod: every operation is one committed entry.
    const leases = new Map<number, ClaimedKeys>();
    const keylease = new Measurement();
    const other = new Measurement();
    // In stretches, taking turns, so that a stall of the whole machine (they happen here, and last up to
    // a second) falls on both systems alike rather than on whichever row it happens to hit.
    const operations = 2 * cycles;
    for (let stretch = 0; stretch < STRETCHES; stretch++) {
      const from = Math.floor((stretch * operations) / STRETCHES);
      const to = Math.floor(((stretch + 1) * operations) / STRETCHES);
      await keylease.run(concurrency, from, to, async (n, worker) => {
        const podName = `pod-${concurrency}-${worker}`;
        const lease = leases.get(worker);
        if (lease === undefined) leases.set(worker, await claimAsSigner(client, podName, 1, 30_000));
        else {
          await releaseAsSigner(client, podName, lease, 30_000, `r-${concurrency}-${n}`);
          leases.delete(worker);
        }
      });
      if (etcdCluster) await other.run(concurrency, from, to, (n, worker) => etcdCluster.put(`pod-${concurrency}-${worker}`, String(n)));
    }
    // Leases still held go back, unmeasured: the next depth must find every key free, not derive more.
    await Promise.all([...leases].map(([worker, lease]) => releaseAsSigner(client, `pod-${concurrency}-${worker}`, lease, 30_000)));
    ours.push(keylease.row(concurrency));
    if (etcdCluster) etcd!.push(other.row(concurrency));
  }
  client.close();
  await etcdCluster?.stop();
  if (profileDir) profiles.push(...(await stopAndSummariseProfiles(cluster, leader, profileDir, { fromUs: loadStartedUs, toUs: monotonicUs() })));
  else failoverMs = await measureFailover(cluster);
} finally {
  await etcdCluster?.stop();
  await cluster.stopAll();
}
await dir.cleanup();

console.log(`committed writes on 3 local replicas, ${2 * cycles} per row (keylease: alternating claim/release, each one entry; etcd 3.4: put)`);
const header = ['in flight', 'keylease/s', 'p50 ms', 'p99 ms', ...(etcd ? ['etcd/s', 'p50 ms', 'p99 ms', 'ratio'] : [])];
console.log(header.map((h) => h.padStart(11)).join(''));
for (const [i, row] of ours.entries()) {
  const other = etcd?.[i];
  const cells = [String(row.concurrency), row.perSecond.toFixed(0), row.p50.toFixed(2), row.p99.toFixed(2)];
  if (other) cells.push(other.perSecond.toFixed(0), other.p50.toFixed(2), other.p99.toFixed(2), `${(row.perSecond / other.perSecond).toFixed(2)}x`);
  console.log(cells.map((c) => c.padStart(11)).join(''));
}
if (!etcd) console.log('(etcd not on PATH: apt-get install etcd-server to compare)');
for (const profile of profiles) console.log(profile);
if (!profileDir) console.log(`failover: ${failoverMs.toFixed(0)} ms from SIGKILL of the leader to the next committed claim (100 ms ticks, election after 10-20 ticks)`);
