import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { createServiceAccount, createTestNamespace, requestToken } from './kube-objects.js';
import { tokenKubeConfig, type ClusterConnection } from './local-cluster.js';
import { RawApi } from './raw-api.js';

const manifest = (path: string) =>
  parseAllDocuments(readFileSync(fileURLToPath(new URL(`../../../k8s/base/${path}`, import.meta.url)), 'utf8')).map((d) => d.toJSON() as Record<string, any>);

const PATHS: Record<string, string> = {
  ClusterRole: '/apis/rbac.authorization.k8s.io/v1/clusterroles',
  ClusterRoleBinding: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
  Role: '/apis/rbac.authorization.k8s.io/v1/namespaces/NS/roles',
  RoleBinding: '/apis/rbac.authorization.k8s.io/v1/namespaces/NS/rolebindings',
};

/**
 * Credentials of a coordinator that has exactly the RBAC of k8s/base: the ClusterRole for TokenReview and
 * the pod-reader Role in each of `validatorNamespaces`, created from the shipped manifests with only
 * names and namespaces changed (tests share one cluster), bound to a fresh ServiceAccount.
 */
export async function coordinatorCredentials(connection: ClusterConnection, admin: KubeConfig, validatorNamespaces: readonly string[]): Promise<KubeConfig> {
  const api = new RawApi(connection);
  const home = await createTestNamespace(admin, 'keylease');
  await createServiceAccount(admin, home, 'keylease-coordinator');
  const suffix = randomBytes(3).toString('hex');
  const clusterObjects = manifest('coordinator/rbac.yaml');
  for (const object of clusterObjects) {
    object['metadata'].name += `-${suffix}`;
    if (object['kind'] === 'ClusterRoleBinding') {
      object['roleRef'].name += `-${suffix}`;
      object['subjects'][0].namespace = home;
    }
    await api.ok('POST', PATHS[object['kind']]!, object);
  }
  for (const namespace of validatorNamespaces) {
    for (const object of manifest('validators/coordinator-rbac.yaml')) {
      object['metadata'].namespace = namespace;
      if (object['kind'] === 'RoleBinding') object['subjects'][0].namespace = home;
      await api.ok('POST', PATHS[object['kind']]!.replace('NS', namespace), object);
    }
  }
  // The API server's own audience, as the kubelet would mount for the coordinator pod.
  const token = await requestToken(admin, home, 'keylease-coordinator', { audience: 'https://kubernetes.default.svc.cluster.local', expirationSeconds: 3600 });
  return tokenKubeConfig(connection, token);
}
