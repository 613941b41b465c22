/**
 * Starts a local kube-apiserver 1.20 + etcd (as the k8s tests do) and keeps it running until Ctrl-C, for
 * trying the webhook, kubectl or the manifests by hand:
 *   npx tsx scripts/k8s/start-cluster.ts
 * The binary comes from scripts/k8s/build-apiserver.sh's cache (or KEYLEASE_KUBE_APISERVER).
 */
import { startLocalCluster } from '../../test/k8s/support/local-cluster.js';

const cluster = await startLocalCluster();
process.stdout.write(`API server ready at ${cluster.server}
  export KUBECONFIG=${cluster.kubeconfigFile}
  kubectl get --raw /version
Logs in ${cluster.dir}. Ctrl-C stops it and deletes that directory.
`);
await new Promise<void>((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
await cluster.stop();
