import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../../shared/errors/keylease-error.js';

/**
 * Credentials for the Kubernetes API: a kubeconfig file when given (running outside the cluster), else the
 * pod's own ServiceAccount (in-cluster). client-node re-reads the in-cluster token file, so the kubelet's
 * rotation of it is followed.
 */
export function loadKubeConfig(kubeconfigFile: string | null): KubeConfig {
  // client-node would otherwise build the URL https://undefined:undefined and fail only at the first call.
  if (!kubeconfigFile && !process.env['KUBERNETES_SERVICE_HOST']) {
    throw new ConfigError('not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST is not set): give a kubeconfig file');
  }
  const kubeConfig = new KubeConfig();
  try {
    if (kubeconfigFile) kubeConfig.loadFromFile(kubeconfigFile);
    else kubeConfig.loadFromCluster();
  } catch (cause) {
    throw new ConfigError(kubeconfigFile ? `cannot load kubeconfig ${kubeconfigFile}: check the file` : 'cannot load the in-cluster Kubernetes credentials: run in a pod with a ServiceAccount token, or give a kubeconfig', { cause });
  }
  if (!kubeConfig.getCurrentCluster()) throw new ConfigError('the Kubernetes configuration names no cluster');
  return kubeConfig;
}
