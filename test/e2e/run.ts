/**
 * `npm run test:e2e`: builds (or takes from the caches) the Kubernetes binaries and the images, starts
 * the real one-node cluster (support/node-cluster.ts), runs test/e2e/*.test.ts one after another inside
 * its network namespace (they share one keylease deployment, which the first file makes), prints every
 * `measured:` line the files printed, stops the cluster, and ends with "N passed, N failed".
 * Arguments narrow the files: `npm run test:e2e -- 02-` runs test/e2e/02-*.
 * Needs root (network namespace, containerd, kubelet).
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { E2E_CLUSTER_ENV } from './support/kube.js';
import { startNodeCluster } from './support/node-cluster.js';
import { prepareNodeCluster } from './support/prepare.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));
const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);

if (process.getuid?.() !== 0) {
  process.stderr.write('test:e2e needs root: it makes a network namespace and runs containerd and the kubelet\n');
  process.exit(1);
}
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((name) => name.endsWith('.test.ts') && (filters.length === 0 || filters.some((f) => name.includes(f))))
  .sort()
  .map((name) => join(here, name));

let started = performance.now();
const { binaries, images, image, pauseImage } = prepareNodeCluster();
process.stdout.write(`binaries and images ready in ${seconds(started)} s\n`);
started = performance.now();
const cluster = await startNodeCluster(binaries, images, image, pauseImage);
process.stdout.write(`cluster ready in ${seconds(started)} s (network namespace ${cluster.netns}, logs in ${cluster.dir})\n`);
const stopCluster = () => cluster.stop();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => void stopCluster().then(() => process.exit(130)));

let passed = 0;
let failed = 0;
const measured: string[] = [];
for (const file of files) {
  const fileStarted = performance.now();
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    const child = spawn('nsenter', [`--net=/run/netns/${cluster.netns}`, '--', process.execPath, '--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: '0', [E2E_CLUSTER_ENV]: join(cluster.dir, 'connection.json') },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d;
      process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d;
      process.stderr.write(d);
    });
    child.on('close', (exitCode) => resolve({ code: exitCode ?? 1, output }));
  });
  const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? NaN);
  const ok = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? NaN);
  const fileFailed = Number.isNaN(total) || Number.isNaN(ok) ? 1 : total - ok + (code !== 0 && total === ok ? 1 : 0);
  passed += Number.isNaN(ok) ? 0 : ok;
  failed += fileFailed;
  // uvu's progress marks ("• ") may precede a line a test printed.
  measured.push(...output.split('\n').flatMap((line) => (line.includes('measured:') ? [line.slice(line.indexOf('measured:'))] : [])));
  process.stdout.write(`${fileFailed ? 'FAIL' : 'ok  '} ${relative(root, file)} (${seconds(fileStarted)} s)\n`);
}
if (measured.length) process.stdout.write(`\n${measured.join('\n')}\n`);
started = performance.now();
await stopCluster();
process.stdout.write(`cluster stopped in ${seconds(started)} s\n${passed} passed, ${failed} failed\n`);
process.exitCode = failed ? 1 : 0;
