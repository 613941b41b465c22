/**
 * `npm run test:k8s`: makes sure kube-apiserver is built (scripts/k8s/build-apiserver.sh, cached), starts
 * one local API server + etcd, runs every test/k8s/*.test.ts against it through test/run.ts, and stops
 * it. Ends with test/run.ts's "N passed, N failed" and its exit code. Arguments narrow the files:
 * `npm run test:k8s -- pod-` runs test/k8s/pod-*.
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLUSTER_ENV } from './support/cluster.js';
import { startLocalCluster } from './support/local-cluster.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);

let started = performance.now();
const binary = execFileSync('bash', [join(root, 'scripts/k8s/build-apiserver.sh')], { stdio: ['ignore', 'pipe', 'inherit'] }).toString().trim().split('\n').at(-1)!;
process.stdout.write(`kube-apiserver: ${binary} (${seconds(started)} s)\n`);

started = performance.now();
process.env['KEYLEASE_KUBE_APISERVER'] = binary;
const cluster = await startLocalCluster();
process.stdout.write(`cluster ready at ${cluster.server} in ${seconds(started)} s (logs and kubeconfig in ${cluster.dir})\n`);
const connectionFile = join(cluster.dir, 'connection.json');
const { server, caFile, adminToken, kubeconfigFile, dir } = cluster;
writeFileSync(connectionFile, JSON.stringify({ server, caFile, adminToken, kubeconfigFile, dir }), { mode: 0o600 });

started = performance.now();
const filters = process.argv.length > 2 ? process.argv.slice(2).map((f) => `test/k8s/${f}`) : ['test/k8s/'];
const code = await new Promise<number>((resolve) => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/run.ts'), ...filters], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, [CLUSTER_ENV]: connectionFile },
  });
  child.on('close', (exitCode) => resolve(exitCode ?? 1));
});
process.stdout.write(`k8s tests took ${seconds(started)} s\n`);
await cluster.stop();
process.exitCode = code;
