/**
 * `npm run k8s:cluster`: starts the real one-node cluster of the e2e tests (test/e2e/support/node-cluster.ts:
 * etcd, kube-apiserver, controller-manager, scheduler, containerd, kubelet, kube-proxy, cluster DNS, all
 * in a network namespace of its own) and keeps it until Ctrl-C, which tears it all down. Builds the
 * Kubernetes binaries and images first if they are not cached (minutes the first time). Run as root.
 */
import { prepareNodeCluster } from '../../test/e2e/support/prepare.js';
import { startNodeCluster } from '../../test/e2e/support/node-cluster.js';

const started = performance.now();
const { binaries, images, image, pauseImage } = prepareNodeCluster();
const cluster = await startNodeCluster(binaries, images, image, pauseImage);
process.stdout.write(`Cluster ready in ${((performance.now() - started) / 1000).toFixed(1)} s (node ${cluster.nodeName}, network namespace ${cluster.netns}).
  From this machine:      export KUBECONFIG=${cluster.hostKubeconfigFile}; kubectl get nodes
  Inside its namespace:   nsenter --net=/run/netns/${cluster.netns} kubectl --kubeconfig ${cluster.kubeconfigFile} get pods -A
                          (pod and Service addresses are reachable only there)
Images loaded: ${image} (the project's; the build's keylease:dev and localhost/keylease:dev name whichever checkout built last) and ${pauseImage}; pods use imagePullPolicy: Never.
Logs in ${cluster.dir}. Ctrl-C stops the cluster and removes its namespace, mounts, cgroups and that directory.
`);
await new Promise<void>((resolve) => {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, resolve);
});
await cluster.stop();
