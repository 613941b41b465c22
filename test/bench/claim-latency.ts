/**
 * Claim latency on one coordinator replica: real gRPC over loopback, real LevelDB with synced writes.
 * Usage: npm run bench:claim [-- --claims N --concurrency C]
 */
import { claimAsSigner, releaseAsSigner } from '../support/proven-release.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { COORDINATOR_COMMAND, coordinatorConfig } from '../../coordinator/config.js';
import { startCoordinator } from '../../coordinator/coordinator.js';
import { parseFlags } from '../../shared/cli/flags.js';
import { silentLogger } from '../../shared/log/logger.js';
import { writeSecrets } from '../support/coordinator-fixture.js';
import { benchNumber } from './bench-options.js';

const claims = benchNumber('claims', 400);
const concurrency = benchNumber('concurrency', 1);
const derived = benchNumber('derived', 20);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function report(label: string, samples: number[], seconds: number): void {
  const sorted = [...samples].sort((a, b) => a - b);
  const row = [label.padEnd(34), String(samples.length).padStart(6), `${(samples.length / seconds).toFixed(0)}/s`.padStart(9), percentile(sorted, 50).toFixed(2).padStart(8), percentile(sorted, 99).toFixed(2).padStart(8), sorted[sorted.length - 1]!.toFixed(2).padStart(8)];
  console.log(row.join(' '));
}

const dir = await mkdtemp(join(tmpdir(), 'keylease-bench-'));
try {
  const secrets = await writeSecrets(dir);
  // Released keys return at once (no cooling), as they do when an agent hands back their slashing
  // protection; otherwise every "recycled" claim would wait for a key to be derived.
  const values = parseFlags(COORDINATOR_COMMAND, ['--data-dir', join(dir, 'data'), '--kek-file', secrets.kekFile, '--mnemonic-file', secrets.mnemonicFile, '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--lease-ttl-ms', '600000', '--cooling-ms', '0'], {});
  const coordinator = await startCoordinator(coordinatorConfig(values), silentLogger);
  const client = new CoordinatorClient([`127.0.0.1:${coordinator.grpcPort}`]);
  console.log(`claim latency, one replica, concurrency ${concurrency} (ms)`);
  console.log(['operation'.padEnd(34), 'n'.padStart(6), 'rate'.padStart(9), 'p50'.padStart(8), 'p99'.padStart(8), 'max'.padStart(8)].join(' '));

  // Claims that must derive a key first (EIP-2333 derivation + one EIP-2335 encryption each).
  const deriving: number[] = [];
  let started = performance.now();
  for (let i = 0; i < derived; i++) {
    const t0 = performance.now();
    await claimAsSigner(client, `derive-${i}`, 1, 30_000);
    deriving.push(performance.now() - t0);
  }
  report('claim 1 key, derived on demand', deriving, (performance.now() - started) / 1000);
  for (let i = 0; i < derived; i++) {
    const lease = await claimAsSigner(client, `derive-${i}`, 1, 30_000);
    await releaseAsSigner(client, `derive-${i}`, lease, 30_000);
  }

  // Claims served from free keys (the steady state), each followed by its release.
  const claimSamples: number[] = [];
  const releaseSamples: number[] = [];
  const renewSamples: number[] = [];
  started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (next < claims) {
        const n = next++;
        const podName = `pod-${worker}-${n}`;
        let t0 = performance.now();
        const lease = await claimAsSigner(client, podName, 1, 30_000);
        claimSamples.push(performance.now() - t0);
        t0 = performance.now();
        await client.renew(podName, lease.leaseId, 30_000);
        renewSamples.push(performance.now() - t0);
        t0 = performance.now();
        await releaseAsSigner(client, podName, lease, 30_000);
        releaseSamples.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  // The three run interleaved, so their rate is that of whole claim → renew → release cycles.
  report('claim 1 key, recycled', claimSamples, seconds);
  report('renew (leader memory)', renewSamples, seconds);
  report('release', releaseSamples, seconds);
  console.log(`(rates of the last three rows: claim → renew → release cycles per second)`);
  client.close();
  await coordinator.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
