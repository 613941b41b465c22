import { KubeClient } from './api/kube-client.js';
import { inClusterConnection, kubeconfigFileConnection } from './api/kube-connection.js';

/**
 * A client of the Kubernetes API: through a kubeconfig file when given (running outside the cluster), else
 * as the pod's own ServiceAccount (in-cluster), whose token file is re-read so the kubelet's rotation of
 * it is followed. Throws a ConfigError naming what is missing.
 */
export function loadKubeClient(kubeconfigFile: string | null): KubeClient {
  return new KubeClient(kubeconfigFile ? kubeconfigFileConnection(kubeconfigFile) : inClusterConnection());
}
