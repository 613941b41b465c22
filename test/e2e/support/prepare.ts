/**
 * What the node cluster runs, built or taken from the caches: the five Kubernetes binaries
 * (scripts/k8s/build-k8s.sh), the Debian packages of the node, and the images of this checkout
 * (scripts/image/build.sh: the project's image, under keylease:dev too, and the pause image). Progress
 * and timings go to stderr.
 */
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeClusterBinaries } from './node-cluster.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
/** Debian packages the node needs: etcd, the container runtime, CNI plugins, iptables for kube-proxy. */
const NODE_PACKAGES = ['etcd-server', 'openssl', 'curl', 'containerd', 'runc', 'containernetworking-plugins', 'iproute2', 'iptables', 'conntrack', 'util-linux'];

export interface Prepared {
  readonly binaries: NodeClusterBinaries;
  /** OCI archives to import into containerd's k8s.io namespace. */
  readonly images: readonly string[];
  /** The project's image (its content-tagged name), one of `images`. */
  readonly image: string;
  /** The pods' sandbox image, one of `images`. */
  readonly pauseImage: string;
}

export function prepareNodeCluster(): Prepared {
  installPackages(NODE_PACKAGES);
  const paths = lines(execFileSync('bash', [join(root, 'scripts/k8s/build-k8s.sh'), 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy'], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const [apiserver, controllerManager, scheduler, kubelet, proxy] = paths.slice(-5) as [string, string, string, string, string];
  // build.sh ends by printing its images.env (NAME=value lines).
  const built = Object.fromEntries(lines(execFileSync('bash', [join(root, 'scripts/image/build.sh')], { stdio: ['ignore', 'pipe', 'inherit'] }))
    .filter((line) => /^KEYLEASE_[A-Z_]+=/.test(line)).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  const [image, imageArchive, pauseImage, pauseArchive] = ['KEYLEASE_IMAGE', 'KEYLEASE_IMAGE_ARCHIVE', 'KEYLEASE_PAUSE_IMAGE', 'KEYLEASE_PAUSE_ARCHIVE'].map((name) => built[name]);
  if (!image || !imageArchive || !pauseImage || !pauseArchive) throw new Error(`scripts/image/build.sh did not name its images: ${JSON.stringify(built)}`);
  // The image cache is shared with other checkouts' builds, which delete archives they supersede: hold
  // this checkout's by a hard link until the cluster has imported it.
  const held = join(cacheDir(), 'images');
  mkdirSync(held, { recursive: true });
  const images = [imageArchive, pauseArchive].map((archive) => {
    const link = join(held, basename(archive));
    rmSync(link, { force: true });
    linkSync(archive, link);
    return link;
  });
  return { binaries: { apiserver, controllerManager, scheduler, kubelet, proxy }, images, image, pauseImage };
}

function installPackages(packages: readonly string[]): void {
  const missing = packages.filter((pkg) => {
    try {
      return !execFileSync('dpkg-query', ['-W', '-f=${Status}', pkg], { stdio: 'pipe' }).toString().includes('install ok installed');
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return;
  process.stderr.write(`apt-get install ${missing.join(' ')}\n`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function lines(output: Buffer): string[] {
  return output.toString().trim().split('\n').filter(Boolean);
}

/** scripts/k8s/build-k8s.sh's cache. */
function cacheDir(): string {
  return process.env['KEYLEASE_K8S_CACHE'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'keylease-k8s');
}
