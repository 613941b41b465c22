import { readFileSync } from 'node:fs';
import { startLocalCluster, type ClusterConnection } from './local-cluster.js';

/** Set by test/k8s/run.ts: a JSON ClusterConnection of the cluster all k8s test files share. */
export const CLUSTER_ENV = 'KEYLEASE_K8S_CLUSTER';

/**
 * The cluster a test file uses: the shared one when the runner started it, else one of its own (so a
 * single file runs with `tsx test/k8s/x.test.ts`). Test files keep to their own namespaces and
 * label-scoped cluster objects, so they can share.
 */
export async function useCluster(): Promise<{ connection: ClusterConnection; release(): Promise<void> }> {
  const shared = process.env[CLUSTER_ENV];
  if (shared) return { connection: JSON.parse(readFileSync(shared, 'utf8')) as ClusterConnection, release: async () => {} };
  const own = await startLocalCluster();
  return { connection: own, release: () => own.stop() };
}
