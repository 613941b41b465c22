/**
 * Claim and release latency on a three-replica Raft cluster of real coordinator processes on loopback
 * (gRPC between replicas, synced classic-level writes on each). Each claim and each release is one
 * committed log entry. Usage: npm run bench:raft [-- --cycles N --concurrency C[,C…]]
 */
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { eventually, writeSecrets } from '../support/coordinator-fixture.js';
import { TestCluster } from '../support/cluster-fixture.js';
import { tempDir } from '../support/temp-dir.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1]!;
};
const cycles = Number(option('cycles', '600'));
const concurrencies = option('concurrency', '1,16,64').split(',').map(Number);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const dir = await tempDir('bench-raft');
const secrets = await writeSecrets(dir.path);
// Tick at 100 ms as in production; the pool holds keys for every concurrent pod, derived once up front.
const cluster = await TestCluster.create(dir.path, secrets, ['r1', 'r2', 'r3'], ['--tick-ms', '100', '--lease-ttl-ms', '600000', '--max-keys-per-claim', '256', '--log-level', 'info']);
try {
  await cluster.startAll();
  const leader = await cluster.leader();
  const client = new CoordinatorClient([cluster.spec(leader).grpcEndpoint]);
  const maxConcurrency = Math.max(...concurrencies);
  process.stderr.write(`deriving ${maxConcurrency} keys…\n`);
  const warmup = await eventually(() => client.claim('warmup', 'default', maxConcurrency, 120_000), 120_000, 'the warm-up claim');
  await client.release('warmup', warmup.leaseId, 10_000);
  console.log('claim and release on 3 Raft replicas (each one committed entry), ms');
  console.log(['concurrency', 'cycles', 'entries/s', 'claim p50', 'claim p99', 'release p50', 'release p99'].map((h) => h.padStart(12)).join(''));
  for (const concurrency of concurrencies) {
    const claims: number[] = [];
    const releases: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async (_, worker) => {
        while (next < cycles) {
          const n = next++;
          const podName = `pod-${concurrency}-${worker}-${n}`;
          let t0 = performance.now();
          const lease = await client.claim(podName, 'default', 1, 30_000);
          claims.push(performance.now() - t0);
          t0 = performance.now();
          await client.release(podName, lease.leaseId, 30_000);
          releases.push(performance.now() - t0);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    claims.sort((a, b) => a - b);
    releases.sort((a, b) => a - b);
    const row = [String(concurrency), String(cycles), ((2 * cycles) / seconds).toFixed(0), percentile(claims, 50).toFixed(2), percentile(claims, 99).toFixed(2), percentile(releases, 50).toFixed(2), percentile(releases, 99).toFixed(2)];
    console.log(row.map((c) => c.padStart(12)).join(''));
  }
  client.close();
} finally {
  await cluster.stopAll();
  await dir.cleanup();
}
