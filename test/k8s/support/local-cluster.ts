/**
 * A real Kubernetes API server (1.20, built by scripts/k8s/build-apiserver.sh) and etcd on loopback, as
 * /work/shared/K8S-TESTING.md describes: certificates, a static admin token, service-account signing
 * keys, and the admission plugins the webhook needs. No kubelet: pods stay Pending, which is all the
 * webhook, token and watch code needs.
 */
import { KubeClient } from '../../../coordinator/k8s/api/kube-client.js';
import { kubeconfigConnection } from '../../../coordinator/k8s/api/kube-connection.js';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { createTestCa } from '../../support/certs.js';
import { freePorts } from '../../support/ports.js';

/** What a test needs to reach the cluster; written to a JSON file when one cluster is shared by many test files. */
export interface ClusterConnection {
  readonly server: string;
  readonly caFile: string;
  readonly adminToken: string;
  /** A kubeconfig with the admin token, for kubectl. */
  readonly kubeconfigFile: string;
  readonly dir: string;
}

export interface LocalCluster extends ClusterConnection {
  stop(): Promise<void>;
}

/** Same cache as scripts/k8s/build-apiserver.sh. */
export function apiserverBinary(): string {
  if (process.env['KEYLEASE_KUBE_APISERVER']) return process.env['KEYLEASE_KUBE_APISERVER'];
  const cache = process.env['KEYLEASE_K8S_CACHE'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'keylease-k8s');
  return join(cache, 'bin', 'kube-apiserver');
}

export async function startLocalCluster(): Promise<LocalCluster> {
  const binary = apiserverBinary();
  if (!existsSync(binary)) throw new Error(`no kube-apiserver at ${binary}: run scripts/k8s/build-apiserver.sh once (about 7 minutes; the binary is cached)`);
  const dir = await mkdtemp(join(tmpdir(), 'keylease-k8s-'));
  const processes: ChildProcess[] = [];
  // If the test process dies without stopping the cluster, do not leave etcd and the API server behind.
  const killOnExit = () => processes.forEach((child) => child.kill('SIGKILL'));
  process.once('exit', killOnExit);
  const stop = async () => {
    process.off('exit', killOnExit);
    for (const child of [...processes].reverse()) await terminate(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const ca = createTestCa(dir, 'cluster-ca');
    const serving = ca.issue('kube-apiserver');
    const saKey = join(dir, 'sa.key');
    const saPub = join(dir, 'sa.pub');
    execFileSync('openssl', ['genrsa', '-out', saKey, '2048'], { stdio: 'pipe' });
    execFileSync('openssl', ['rsa', '-in', saKey, '-pubout', '-out', saPub], { stdio: 'pipe' });
    const adminToken = randomBytes(24).toString('hex');
    writeFileSync(join(dir, 'tokens.csv'), `${adminToken},admin,admin-uid,"system:masters"\n`, { mode: 0o600 });

    const [etcdClient, etcdPeer, apiPort] = (await freePorts(3)) as [number, number, number];
    processes.push(
      spawnLogged('etcd', [
        '--name', 'keylease-test', '--data-dir', join(dir, 'etcd'),
        '--listen-client-urls', `http://127.0.0.1:${etcdClient}`, '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
        '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
        '--initial-cluster', `keylease-test=http://127.0.0.1:${etcdPeer}`, '--logger', 'zap', '--log-level', 'error',
      ], join(dir, 'etcd.log')),
    );
    const issuer = 'https://kubernetes.default.svc.cluster.local';
    processes.push(
      spawnLogged(binary, [
        '--bind-address=127.0.0.1', `--secure-port=${apiPort}`, '--insecure-port=0', `--cert-dir=${join(dir, 'apiserver-certs')}`,
        `--etcd-servers=http://127.0.0.1:${etcdClient}`,
        `--tls-cert-file=${serving.certFile}`, `--tls-private-key-file=${serving.keyFile}`, `--client-ca-file=${ca.caFile}`,
        `--token-auth-file=${join(dir, 'tokens.csv')}`,
        `--service-account-issuer=${issuer}`, `--api-audiences=${issuer}`,
        `--service-account-key-file=${saPub}`, `--service-account-signing-key-file=${saKey}`,
        '--service-cluster-ip-range=10.0.0.0/24', '--authorization-mode=RBAC',
        '--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,MutatingAdmissionWebhook,ValidatingAdmissionWebhook',
        '--endpoint-reconciler-type=none', '--feature-gates=BoundServiceAccountTokenVolume=true', '--allow-privileged=true',
        '--profiling=false', '--v=1',
      ], join(dir, 'kube-apiserver.log')),
    );
    const server = `https://127.0.0.1:${apiPort}`;
    const caPem = readFileSync(ca.caFile);
    await waitForReady(server, caPem, adminToken, processes, dir);
    const kubeconfigFile = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigFile, kubeconfigYaml(server, caPem, adminToken), { mode: 0o600 });
    return { server, caFile: ca.caFile, adminToken, kubeconfigFile, dir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** An admin client configuration for a cluster. */
export function adminKubeConfig(connection: ClusterConnection): KubeConfig {
  return tokenKubeConfig(connection, connection.adminToken);
}

/** keylease's own client of the API, with the same cluster and credentials as a client-node configuration. */
export function kubeClientOf(kubeConfig: KubeConfig): KubeClient {
  return new KubeClient(kubeconfigConnection(kubeConfig.exportConfig(), 'the test kubeconfig'));
}

/** A client configuration that authenticates with `token` (e.g. a ServiceAccount's). */
export function tokenKubeConfig(connection: ClusterConnection, token: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(kubeconfigYaml(connection.server, readFileSync(connection.caFile), token));
  return kubeConfig;
}

function kubeconfigYaml(server: string, caPem: Buffer, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server, 'certificate-authority-data': caPem.toString('base64') } }],
    users: [{ name: 'user', user: { token } }],
    contexts: [{ name: 'local', context: { cluster: 'local', user: 'user' } }],
    'current-context': 'local',
  });
}

function spawnLogged(command: string, args: string[], logFile: string): ChildProcess {
  const out = openSync(logFile, 'a');
  const child = spawn(command, args, { stdio: ['ignore', out, out] });
  child.on('error', () => {}); // reported by waitForReady as an early exit
  return child;
}

async function waitForReady(server: string, caPem: Buffer, token: string, processes: ChildProcess[], dir: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const exited = processes.find((p) => p.exitCode !== null || p.signalCode !== null);
    if (exited) throw new Error(`${exited.spawnfile} exited before the API server was ready; see the logs in ${dir}:\n${tail(join(dir, 'kube-apiserver.log'))}`);
    if ((await getStatus(`${server}/readyz`, caPem, token)) === 200) return;
    if (Date.now() > deadline) throw new Error(`the API server was not ready within 60 s:\n${tail(join(dir, 'kube-apiserver.log'))}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function getStatus(url: string, ca: Buffer, token: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
