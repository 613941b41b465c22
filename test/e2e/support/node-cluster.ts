/**
 * A real one-node Kubernetes 1.20 cluster: etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler, containerd (runc, CNI bridge + host-local), kubelet and kube-proxy (iptables), plus a
 * small cluster DNS (cluster-dns.ts). Every one of them runs in a network namespace made for the cluster
 * (`ip netns add`, entered with `nsenter --net`, so mounts and cgroups stay the machine's, which the
 * kubelet and containerd must share): pod, Service and node addresses live only there, with no route
 * out. Its loopback carries etcd and the API server; a relay puts the API server on the machine's
 * loopback too (hostKubeconfigFile). stop() tears down pods, processes, mounts, cgroups and the namespace.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClusterPki } from './pki.js';
import {
  API_PORT, API_SERVICE_IP, NODE_IP, NODE_NAME, POD_CIDR, SERVICE_CIDR,
  cniConfig, containerdConfig, kubeletConfig,
} from './node-config.js';

export interface NodeClusterBinaries {
  readonly apiserver: string;
  readonly controllerManager: string;
  readonly scheduler: string;
  readonly kubelet: string;
  readonly proxy: string;
}

/** What tests need; written to connection.json in the cluster's directory. */
export interface NodeClusterConnection {
  /** The API server as seen inside the network namespace (where the tests run). */
  readonly server: string;
  readonly caFile: string;
  readonly adminToken: string;
  /** Admin kubeconfig for use inside the network namespace. */
  readonly kubeconfigFile: string;
  /** Admin kubeconfig for the machine's own loopback (through the relay). */
  readonly hostKubeconfigFile: string;
  readonly netns: string;
  readonly nodeName: string;
  readonly dir: string;
  readonly containerdSocket: string;
  /** Where the kubelet keeps pod volumes, and the node's cgroup root (for reading pods' memory). */
  readonly kubeletRootDir: string;
  readonly cgroupRoot: string;
  /** The project's image, loaded on the node (pods use imagePullPolicy: Never). */
  readonly image: string;
  readonly pauseImage: string;
}

export interface NodeCluster extends NodeClusterConnection {
  /** Stops the kubelet (its pods keep running, as on a node that lost contact). */
  stopKubelet(): Promise<void>;
  startKubelet(): Promise<void>;
  stop(): Promise<void>;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const CGROUP_FS = '/sys/fs/cgroup';

/**
 * `images`: OCI archives imported into containerd's k8s.io namespace; `image`: the project's image among
 * them (what the tests deploy); `pauseImage`: the sandbox image among them.
 */
export async function startNodeCluster(binaries: NodeClusterBinaries, images: readonly string[], image: string, pauseImage: string): Promise<NodeCluster> {
  const id = randomBytes(3).toString('hex');
  const netns = `keylease-e2e-${id}`;
  const cgroupRoot = `/keylease-e2e-${id}`;
  const dir = await mkdtemp(join(tmpdir(), 'keylease-node-'));
  chmodSync(dir, 0o755); // pods running as other users read their volumes below it
  const processes = new Map<string, ChildProcess>();
  let relayServer: Server | undefined;
  const log = (name: string) => join(dir, `${name}.log`);
  const inNetns = (name: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess => {
    const out = openSync(log(name), 'a');
    const child = spawn('nsenter', [`--net=/run/netns/${netns}`, '--', command, ...args], { stdio: ['ignore', out, out], env });
    child.on('error', () => {});
    processes.set(name, child);
    return child;
  };
  const containerdSocket = join(dir, 'containerd', 'containerd.sock');
  const kubeletRootDir = join(dir, 'kubelet');
  // If this process ends without stop() finishing, nothing of the cluster keeps running.
  const killOnExit = () => {
    processes.forEach((child) => child.kill('SIGKILL'));
    killShims(containerdSocket);
    killCgroupProcesses(cgroupRoot);
  };
  process.once('exit', killOnExit);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    relayServer?.close();
    await terminate(processes.get('kubelet'));
    await terminate(processes.get('kube-proxy'));
    const podUids = containerPodUids(containerdSocket);
    killContainers(containerdSocket);
    for (const name of ['containerd', 'kube-scheduler', 'kube-controller-manager', 'netns-helper', 'kube-apiserver', 'etcd']) {
      await terminate(processes.get(name));
    }
    killShims(containerdSocket);
    // Whatever a pod still runs (a container its shim left) lives in the node's cgroups.
    killCgroupProcesses(cgroupRoot);
    unmountUnder(dir);
    removeCgroups(cgroupRoot);
    removePodLogs(kubeletRootDir, podUids);
    run('ip', ['netns', 'delete', netns], true);
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    process.off('exit', killOnExit);
  };

  try {
    // --- network namespace: the node address on its loopback, nothing else ---
    run('ip', ['netns', 'add', netns]);
    run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    run('ip', ['-n', netns, 'addr', 'add', `${NODE_IP}/32`, 'dev', 'lo']);
    // Connections from the namespace itself (API server to the webhook, tests) to a ClusterIP need a
    // route before kube-proxy's OUTPUT rules rewrite them to a pod; the namespace has no default one.
    run('ip', ['-n', netns, 'route', 'add', SERVICE_CIDR, 'dev', 'lo', 'src', NODE_IP]);

    // --- certificates and credentials ---
    const pkiDir = join(dir, 'pki');
    mkdirSync(pkiDir);
    const pki = createClusterPki(pkiDir);
    const apiServing = pki.serving('kube-apiserver', ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'localhost'], ['127.0.0.1', NODE_IP, API_SERVICE_IP]);
    const kubeletServing = pki.serving('kubelet', [NODE_NAME], [NODE_IP]);
    const apiKubeletClient = pki.client('apiserver-kubelet-client', 'kube-apiserver', ['system:masters']);
    const saKey = join(pkiDir, 'sa.key');
    const saPub = join(pkiDir, 'sa.pub');
    run('openssl', ['genrsa', '-out', saKey, '2048']);
    run('openssl', ['rsa', '-in', saKey, '-pubout', '-out', saPub]);
    const tokens = {
      admin: randomBytes(24).toString('hex'),
      kubelet: randomBytes(24).toString('hex'),
      controllerManager: randomBytes(24).toString('hex'),
      scheduler: randomBytes(24).toString('hex'),
      proxy: randomBytes(24).toString('hex'),
    };
    writeFileSync(join(pkiDir, 'tokens.csv'), [
      `${tokens.admin},admin,admin-uid,"system:masters"`,
      `${tokens.kubelet},system:node:${NODE_NAME},kubelet-uid,"system:nodes"`,
      `${tokens.controllerManager},system:kube-controller-manager,kcm-uid`,
      `${tokens.scheduler},system:kube-scheduler,scheduler-uid`,
      `${tokens.proxy},system:kube-proxy,proxy-uid`,
    ].join('\n') + '\n', { mode: 0o600 });
    writeFileSync(join(pkiDir, 'admin.token'), tokens.admin, { mode: 0o600 });
    const server = `https://127.0.0.1:${API_PORT}`;
    const caPem = readFileSync(pki.caFile);
    const kubeconfig = (name: string, token: string, url = server): string => {
      const file = join(dir, `${name}.kubeconfig`);
      writeFileSync(file, kubeconfigYaml(url, caPem, token), { mode: 0o600 });
      return file;
    };

    // --- control plane ---
    inNetns('etcd', 'etcd', [
      '--name', 'keylease-e2e', '--data-dir', join(dir, 'etcd'),
      '--listen-client-urls', 'http://127.0.0.1:2379', '--advertise-client-urls', 'http://127.0.0.1:2379',
      '--listen-peer-urls', 'http://127.0.0.1:2380', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380',
      '--initial-cluster', 'keylease-e2e=http://127.0.0.1:2380', '--logger', 'zap', '--log-level', 'error',
    ]);
    const issuer = 'https://kubernetes.default.svc.cluster.local';
    inNetns('kube-apiserver', binaries.apiserver, [
      '--bind-address=0.0.0.0', `--advertise-address=${NODE_IP}`, `--secure-port=${API_PORT}`, '--insecure-port=0',
      `--cert-dir=${join(dir, 'apiserver-certs')}`, '--etcd-servers=http://127.0.0.1:2379',
      `--tls-cert-file=${apiServing.certFile}`, `--tls-private-key-file=${apiServing.keyFile}`, `--client-ca-file=${pki.caFile}`,
      `--kubelet-client-certificate=${apiKubeletClient.certFile}`, `--kubelet-client-key=${apiKubeletClient.keyFile}`,
      // The node's name resolves nowhere; its address does.
      '--kubelet-preferred-address-types=InternalIP',
      `--token-auth-file=${join(pkiDir, 'tokens.csv')}`,
      `--service-account-issuer=${issuer}`, `--api-audiences=${issuer}`,
      `--service-account-key-file=${saPub}`, `--service-account-signing-key-file=${saKey}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`, '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,NodeRestriction,MutatingAdmissionWebhook,ValidatingAdmissionWebhook',
      '--endpoint-reconciler-type=lease', '--feature-gates=BoundServiceAccountTokenVolume=true', '--allow-privileged=true',
      '--profiling=false', '--v=1',
    ]);
    await waitFor('the API server', 90_000, processes, dir, async () => (await getStatus(`https://127.0.0.1:${API_PORT}/readyz`, pki.caFile, tokens.admin, netns)) === 200);

    const helperConfig = join(dir, 'netns-helper.json');
    const relaySocket = join(dir, 'apiserver.sock');
    writeFileSync(helperConfig, JSON.stringify({
      dnsHost: NODE_IP, apiServer: server, apiPort: API_PORT, caFile: pki.caFile, tokenFile: join(pkiDir, 'admin.token'), relaySocket,
    }));
    inNetns('netns-helper', process.execPath, ['--import', 'tsx', join(here, 'netns-helper.ts'), helperConfig]);
    inNetns('kube-controller-manager', binaries.controllerManager, [
      `--kubeconfig=${kubeconfig('controller-manager', tokens.controllerManager)}`, '--leader-elect=false',
      '--port=0', '--secure-port=0', '--use-service-account-credentials=true',
      `--service-account-private-key-file=${saKey}`, `--root-ca-file=${pki.caFile}`,
      `--cluster-cidr=${POD_CIDR}`, `--service-cluster-ip-range=${SERVICE_CIDR}`, '--allocate-node-cidrs=false',
      // Node loss is noticed in 16 s instead of 40 s; evicting its pods stays the test's (force-delete) call.
      '--node-monitor-grace-period=16s', '--node-monitor-period=2s', '--v=1',
    ]);
    inNetns('kube-scheduler', binaries.scheduler, [
      `--kubeconfig=${kubeconfig('scheduler', tokens.scheduler)}`, '--leader-elect=false', '--port=0', '--secure-port=0', '--v=1',
    ]);

    // --- node: containerd, images, kubelet, kube-proxy ---
    const cniConfDir = join(dir, 'cni', 'net.d');
    mkdirSync(cniConfDir, { recursive: true });
    writeFileSync(join(cniConfDir, '10-keylease-e2e.conflist'), cniConfig(join(dir, 'cni', 'ipam')));
    mkdirSync(join(dir, 'containerd'), { recursive: true });
    const containerdToml = join(dir, 'containerd', 'config.toml');
    writeFileSync(containerdToml, containerdConfig({ sandboxImage: pauseImage, root: join(dir, 'containerd', 'root'), state: join(dir, 'containerd', 'state'), socket: containerdSocket, cniConfDir }));
    inNetns('containerd', 'containerd', ['--config', containerdToml]);
    await waitFor('containerd', 30_000, processes, dir, async () => existsSync(containerdSocket) && tryRun('ctr', ['--address', containerdSocket, 'version']));
    for (const image of images) run('ctr', ['--address', containerdSocket, '-n', 'k8s.io', 'images', 'import', '--no-unpack=false', image]);

    for (const controller of readdirSync(CGROUP_FS)) {
      if (!controller.includes(',')) mkdirSync(join(CGROUP_FS, controller, cgroupRoot), { recursive: true });
    }
    const resolvConf = join(dir, 'resolv.conf');
    writeFileSync(resolvConf, `nameserver ${NODE_IP}\n`);
    const kubeletConfigFile = join(dir, 'kubelet-config.json');
    writeFileSync(kubeletConfigFile, kubeletConfig({
      caFile: pki.caFile, tlsCertFile: kubeletServing.certFile, tlsKeyFile: kubeletServing.keyFile, resolvConf,
      volumePluginDir: join(kubeletRootDir, 'volume-plugins'), cgroupRoot,
    }));
    const kubeletKubeconfig = kubeconfig('kubelet', tokens.kubelet);
    const startKubelet = async () => {
      inNetns('kubelet', binaries.kubelet, [
        `--config=${kubeletConfigFile}`, `--kubeconfig=${kubeletKubeconfig}`, `--root-dir=${kubeletRootDir}`,
        '--container-runtime=remote', `--container-runtime-endpoint=unix://${containerdSocket}`,
        `--hostname-override=${NODE_NAME}`, `--node-ip=${NODE_IP}`, `--pod-infra-container-image=${pauseImage}`, '--v=1',
      ]);
    };
    await startKubelet();
    inNetns('kube-proxy', binaries.proxy, [
      `--kubeconfig=${kubeconfig('kube-proxy', tokens.proxy)}`, `--hostname-override=${NODE_NAME}`, '--proxy-mode=iptables',
      `--cluster-cidr=${POD_CIDR}`, `--bind-address=${NODE_IP}`,
      // Pod → Service → pod on the same bridge: without br_netfilter the answer would bypass the
      // namespace's conntrack, so every Service connection is masqueraded to come back through it.
      '--masquerade-all',
      '--conntrack-max-per-core=0', '--conntrack-tcp-timeout-established=0', '--conntrack-tcp-timeout-close-wait=0',
      '--metrics-bind-address=127.0.0.1:10249', '--healthz-bind-address=127.0.0.1:10256', '--v=1',
    ]);
    await waitFor('the node to be Ready', 120_000, processes, dir, async () => nodeReady(server, pki.caFile, tokens.admin, netns));

    // --- the API server on the machine's loopback, through the helper's Unix socket ---
    relayServer = createServer((client) => {
      const upstream = connect(relaySocket);
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    const hostPort = await new Promise<number>((resolve) => relayServer!.listen(0, '127.0.0.1', () => resolve((relayServer!.address() as { port: number }).port)));
    const kubeconfigFile = kubeconfig('admin', tokens.admin);
    const hostKubeconfigFile = kubeconfig('admin-host', tokens.admin, `https://127.0.0.1:${hostPort}`);

    const connection: NodeClusterConnection = {
      server, caFile: pki.caFile, adminToken: tokens.admin, kubeconfigFile, hostKubeconfigFile, netns, nodeName: NODE_NAME, dir,
      containerdSocket, kubeletRootDir, cgroupRoot, image, pauseImage,
    };
    writeFileSync(join(dir, 'connection.json'), JSON.stringify(connection), { mode: 0o600 });
    return {
      ...connection,
      stop,
      stopKubelet: async () => {
        await terminate(processes.get('kubelet'));
        processes.delete('kubelet');
      },
      startKubelet,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function run(command: string, args: string[], ignoreFailure = false): string {
  try {
    return execFileSync(command, args, { stdio: 'pipe' }).toString();
  } catch (error) {
    if (ignoreFailure) return '';
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`${command} ${args.join(' ')} failed${stderr ? `: ${stderr}` : ''}`);
  }
}

function tryRun(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** HTTP status of a GET made inside the namespace (curl through nsenter: this process is outside it). */
async function getStatus(url: string, caFile: string, token: string, netns: string): Promise<number> {
  return Number(inNetnsOutput(netns, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', caFile, '-H', `Authorization: Bearer ${token}`, '--max-time', '2', url]) || 0);
}

async function nodeReady(server: string, caFile: string, token: string, netns: string): Promise<boolean> {
  const body = inNetnsOutput(netns, 'curl', ['-s', '--cacert', caFile, '-H', `Authorization: Bearer ${token}`, '--max-time', '2', `${server}/api/v1/nodes/${NODE_NAME}`]);
  try {
    const node = JSON.parse(body) as { status?: { conditions?: Array<{ type: string; status: string }> } };
    return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  } catch {
    return false;
  }
}

function inNetnsOutput(netns: string, command: string, args: string[]): string {
  try {
    return execFileSync('nsenter', [`--net=/run/netns/${netns}`, '--', command, ...args], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch (error) {
    return (error as { stdout?: Buffer }).stdout?.toString() ?? '';
  }
}

async function waitFor(what: string, timeoutMs: number, processes: Map<string, ChildProcess>, dir: string, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const [name, child] of processes) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${name} exited while waiting for ${what}; its log (${join(dir, `${name}.log`)}):\n${tail(join(dir, `${name}.log`))}`);
      }
    }
    if (await ready()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; logs in ${dir}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}

async function terminate(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Kills every container task of this containerd (the kubelet is already gone and would not stop them). */
function killContainers(socket: string): void {
  if (!existsSync(socket)) return;
  const ctr = (...args: string[]) => run('ctr', ['--address', socket, '-n', 'k8s.io', ...args], true);
  const tasks = ctr('tasks', 'ls', '-q').split('\n').filter(Boolean);
  for (const task of tasks) ctr('tasks', 'kill', '-s', 'SIGKILL', task);
  for (const task of tasks) ctr('tasks', 'delete', '-f', task);
}

/** The runc shims this containerd started outlive it; they name its socket on their command line. */
function killShims(socket: string): void {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (cmdline[0]?.endsWith('containerd-shim-runc-v2') && cmdline.includes(socket)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** Unmounts (deepest first) whatever the kubelet and containerd mounted under the cluster's directory. */
function unmountUnder(dir: string): void {
  const mountPoints = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => line.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((point): point is string => !!point && (point === dir || point.startsWith(`${dir}/`)));
  for (const point of mountPoints.sort((a, b) => b.length - a.length)) run('umount', ['-l', point], true);
}

/** SIGKILLs every process in the node's cgroups (the memory hierarchy has them all), until none is left. */
function killCgroupProcesses(cgroupRoot: string): void {
  const top = join(CGROUP_FS, 'memory', cgroupRoot);
  for (let round = 0; round < 20 && existsSync(top); round++) {
    const pids = cgroupPids(top);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    execFileSync('sleep', ['0.1']);
  }
}

function cgroupPids(cgroup: string): number[] {
  const own = readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  const children = readdirSync(cgroup, { withFileTypes: true }).filter((e) => e.isDirectory());
  return [...own, ...children.flatMap((child) => cgroupPids(join(cgroup, child.name)))];
}

/** The pods whose containers this containerd still has (the CRI labels each with its pod's uid). */
function containerPodUids(socket: string): string[] {
  if (!existsSync(socket)) return [];
  const ctr = (...args: string[]) => run('ctr', ['--address', socket, '-n', 'k8s.io', ...args], true);
  return ctr('containers', 'ls', '-q').split('\n').filter(Boolean).flatMap((id) => {
    try {
      const uid = (JSON.parse(ctr('containers', 'info', id)) as { Labels?: Record<string, string> }).Labels?.['io.kubernetes.pod.uid'];
      return uid ? [uid] : [];
    } catch {
      return [];
    }
  });
}

/**
 * The kubelet writes container logs to /var/log/pods (fixed in 1.20) and links them from
 * /var/log/containers; the pods are those it still kept a directory for, or containerd containers.
 */
function removePodLogs(kubeletRootDir: string, containerPodUids: readonly string[]): void {
  const podsDir = join(kubeletRootDir, 'pods');
  const uids = new Set([...(existsSync(podsDir) ? readdirSync(podsDir) : []), ...containerPodUids]);
  if (existsSync('/var/log/pods')) {
    for (const entry of readdirSync('/var/log/pods')) {
      if (uids.has(entry.split('_').at(-1)!)) rmSync(join('/var/log/pods', entry), { recursive: true, force: true });
    }
  }
  if (existsSync('/var/log/containers')) {
    for (const link of readdirSync('/var/log/containers')) {
      const path = join('/var/log/containers', link);
      if (!existsSync(path)) rmSync(path, { force: true }); // dangling: its pod's log directory went above
    }
  }
}

function removeCgroups(cgroupRoot: string): void {
  for (const controller of readdirSync(CGROUP_FS)) {
    const top = join(CGROUP_FS, controller, cgroupRoot);
    if (existsSync(top)) removeTree(top);
  }
}

function removeTree(cgroup: string): void {
  for (const entry of readdirSync(cgroup, { withFileTypes: true })) if (entry.isDirectory()) removeTree(join(cgroup, entry.name));
  try {
    rmdirSync(cgroup);
  } catch {
    // still has a process: it was killed above, but a zombie may linger a moment
  }
}

function kubeconfigYaml(server: string, caPem: Buffer, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'keylease-e2e', cluster: { server, 'certificate-authority-data': caPem.toString('base64') } }],
    users: [{ name: 'user', user: { token } }],
    contexts: [{ name: 'keylease-e2e', context: { cluster: 'keylease-e2e', user: 'user' } }],
    'current-context': 'keylease-e2e',
  });
}
