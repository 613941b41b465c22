/**
 * The node cluster's addresses and the configuration files of its node: containerd, the CNI network and
 * the kubelet. Pod, Service and node addresses exist only inside the cluster's network namespace.
 */

export const NODE_NAME = 'keylease-node';
/** The node's address: on the namespace's loopback device; the API server, kubelet and DNS listen on it. */
export const NODE_IP = '10.243.0.1';
export const POD_CIDR = '10.244.0.0/24';
export const SERVICE_CIDR = '10.0.0.0/24';
/** The `kubernetes` Service's ClusterIP: the first address of SERVICE_CIDR. */
export const API_SERVICE_IP = '10.0.0.1';
export const API_PORT = 6443;

export interface ContainerdPaths {
  readonly sandboxImage: string;
  readonly root: string;
  readonly state: string;
  readonly socket: string;
  readonly cniConfDir: string;
}

export function containerdConfig(paths: ContainerdPaths): string {
  return `version = 2
root = ${JSON.stringify(paths.root)}
state = ${JSON.stringify(paths.state)}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = ${JSON.stringify(paths.socket)}
[ttrpc]
  address = ${JSON.stringify(`${paths.socket}.ttrpc`)}
[plugins."io.containerd.internal.v1.opt"]
  path = ${JSON.stringify(`${paths.root}/opt`)}
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${JSON.stringify(paths.sandboxImage)}
  stream_server_address = "127.0.0.1"
  # Pod network namespaces under the state directory, not /run/netns: stop() unmounts them with the rest.
  netns_mounts_under_state_dir = true
  # This machine's root lacks CAP_SYS_RESOURCE: runc could not lower a pod's oom_score_adj below
  # containerd's own (the kubelet asks -998 for sandboxes), so cap it there.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = ${JSON.stringify(paths.cniConfDir)}
    max_conf_num = 1
`;
}

/** A bridge with the pods' gateway on it and host-local addresses; no masquerading: nothing leaves. */
export function cniConfig(ipamDataDir: string): string {
  return JSON.stringify({
    cniVersion: '0.4.0',
    name: 'keylease-e2e',
    plugins: [
      {
        type: 'bridge',
        bridge: 'kl0',
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: POD_CIDR }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: ipamDataDir },
      },
    ],
  });
}

export interface KubeletPaths {
  readonly caFile: string;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  readonly resolvConf: string;
  readonly volumePluginDir: string;
  readonly cgroupRoot: string;
}

export function kubeletConfig(paths: KubeletPaths): string {
  return JSON.stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: NODE_IP,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    tlsCertFile: paths.tlsCertFile,
    tlsPrivateKeyFile: paths.tlsKeyFile,
    // The API server reaches the kubelet (logs, exec) with a client certificate of the cluster CA.
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: paths.caFile } },
    authorization: { mode: 'Webhook' },
    cgroupDriver: 'cgroupfs',
    cgroupRoot: paths.cgroupRoot,
    clusterDNS: [NODE_IP],
    clusterDomain: 'cluster.local',
    resolvConf: paths.resolvConf,
    failSwapOn: false,
    volumePluginDir: paths.volumePluginDir,
    // A shared development machine: never evict for its disk, never collect the locally loaded images.
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    maxPods: 40,
    // Status reported often, so tests see readiness changes promptly.
    nodeStatusUpdateFrequency: '4s',
    syncFrequency: '10s',
  });
}
