/**
 * A fleet of validator pods against three coordinator replicas: N real lease loops (the agent's own
 * code, each with its own gRPC channel) claim, renew every TTL/3 and, halfway through, live through a
 * SIGKILL of the leader. Prints how long the fleet took to hold its keys, renewal latency before and
 * across the failover, fences (there should be none), and how long the fleet took to hand back.
 * The validator client is a stand-in that keeps keys in memory: the coordinators are what is measured.
 * Usage: npm run bench:fleet [-- --pods N --ttl-ms MS --hold-s S]
 */
import { claimAsSigner, releaseAsSigner } from '../support/proven-release.js';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { createLogger } from '../../shared/log/logger.js';
import { Fleet } from '../support/fleet.js';
import { writeSecrets } from '../support/coordinator-fixture.js';
import { TestCluster } from '../support/cluster-fixture.js';
import { tempDir } from '../support/temp-dir.js';
import { benchNumber } from './bench-options.js';

const pods = benchNumber('pods', 300);
const ttlMs = benchNumber('ttl-ms', 10_000);
const holdSeconds = benchNumber('hold-s', 20);

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const row = (label: string, values: number[]) =>
  console.log(`  ${label.padEnd(32)} ${String(values.length).padStart(6)}  p50 ${percentile(values, 50).toFixed(2).padStart(7)} ms  p99 ${percentile(values, 99).toFixed(2).padStart(7)} ms  max ${Math.max(...values).toFixed(2).padStart(8)} ms`);
const waitUntil = async (condition: () => boolean, timeoutMs: number, what: string) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

const dir = await tempDir('bench-fleet');
const secrets = await writeSecrets(dir.path);
const cluster = await TestCluster.create(dir.path, secrets, ['r1', 'r2', 'r3'], ['--tick-ms', '100', '--lease-ttl-ms', String(ttlMs), '--cooling-ms', '0', '--max-keys-per-claim', String(pods), '--log-level', 'info']);
/** What went wrong for the agents, by message: a fleet's failures are summarised, not printed one by one. */
const agentProblems = new Map<string, number>();
const agentLogger = createLogger({
  level: 'warn',
  component: 'agent',
  sink: (line) => {
    const record = JSON.parse(line) as { msg: string; error?: string };
    const key = `${record.msg}${record.error ? `: ${record.error.replace(/lease-\d+/g, 'lease-N').replace(/validator-\d+/g, 'validator-N').slice(0, 160)}` : ''}`;
    agentProblems.set(key, (agentProblems.get(key) ?? 0) + 1);
  },
});
let fleet: Fleet | null = null;
try {
  await cluster.startAll();
  const endpoints = cluster.replicas.map((r) => r.grpcEndpoint);
  // The pool derives its keys up front (a key's derivation is not what this measures), then frees them
  // (no cooling in this run: cooling is a safety delay, not work).
  process.stdout.write(`deriving ${pods} keys…\n`);
  const warm = new CoordinatorClient([cluster.spec(await cluster.leader()).grpcEndpoint]);
  const warmLease = await claimAsSigner(warm, 'warm-up', pods, 600_000);
  await releaseAsSigner(warm, 'warm-up', warmLease, 30_000);
  warm.close();

  console.log(`${pods} pods, one key each, lease TTL ${ttlMs} ms (renewal every ${Math.round(ttlMs / 3)} ms), 3 replicas on one machine`);
  const started = performance.now();
  fleet = new Fleet(endpoints, pods, agentLogger);
  const { observer } = fleet;
  await waitUntil(() => fleet!.holding() === pods, 300_000, 'every pod to hold its key');
  console.log(`  every pod holding its key after ${((performance.now() - started) / 1000).toFixed(2)} s`);

  await new Promise((resolve) => setTimeout(resolve, holdSeconds * 1000));
  const leader = await cluster.leader();
  observer.phase = 'failover';
  const killedAt = performance.now();
  await cluster.processes.get(leader)!.kill('SIGKILL');
  const survivors = cluster.replicas.map((r) => r.id).filter((id) => id !== leader);
  const next = await cluster.leader(survivors, 30_000);
  console.log(`  SIGKILL of leader ${leader}; ${next} leads after ${((performance.now() - killedAt) / 1000).toFixed(2)} s`);
  await new Promise((resolve) => setTimeout(resolve, 2 * ttlMs));

  console.log('renewals (ms, as each agent saw them):');
  row(`steady, ${holdSeconds} s`, observer.renewMs.steady);
  row(`across the failover, ${(2 * ttlMs) / 1000} s`, observer.renewMs.failover);
  console.log(`  failed attempts (retried): steady ${observer.failedRenewals.steady}, across the failover ${observer.failedRenewals.failover}`);
  console.log(`  fences: ${observer.fences.length}${observer.fences.length > 0 ? ` (${observer.fences.join(', ')})` : ''}; pods holding now: ${fleet.holding()} of ${pods}`);

  if (agentProblems.size > 0) {
    console.log('agent warnings, by message:');
    for (const [message, count] of [...agentProblems].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`  ${String(count).padStart(6)}  ${message}`);
  }

  const stopping = performance.now();
  const released = await fleet.stop();
  fleet = null;
  console.log(`  every pod released in ${((performance.now() - stopping) / 1000).toFixed(2)} s (${released} of ${pods} acknowledged)`);
} finally {
  await fleet?.stop();
  await cluster.stopAll();
  await dir.cleanup();
}
