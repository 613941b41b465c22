import type { AgentIdentity } from '../identity/agent-identity.js';
import type { PodRef } from '../core/index.js';
import type { Logger } from '../../shared/log/logger.js';
import { PodIdentityError } from '../identity/identity-error.js';
import { PodIdentityVerifier } from './identity/pod-identity-verifier.js';
import { PoolPolicy } from './identity/pool-policy.js';
import type { KubeClient } from './api/kube-client.js';
import { loadKubeClient } from './kube-config.js';
import { watchFileSet, type FileSetWatch } from '../../shared/files/watch-file-set.js';
import { PodWatch } from './watch/pod-watch.js';

export interface KubernetesIdentityOptions {
  readonly policyFile: string;
  readonly audience: string;
  readonly kubeconfigFile: string | null;
  readonly logger: Logger;
}

/**
 * Agents prove their pod with its projected ServiceAccount token (TokenReview, then the pod itself), and
 * the pool policy (reloaded when its ConfigMap changes) says which namespaces and service accounts may
 * claim from which pool. The pod acted for is the token's, never the request's.
 */
export class KubernetesAgentIdentity implements AgentIdentity {
  private constructor(
    private readonly verifier: PodIdentityVerifier,
    private policy: PoolPolicy,
    private readonly watch: FileSetWatch,
    private readonly pods: PodWatch,
    private readonly kube: KubeClient,
  ) {}

  static async start(options: KubernetesIdentityOptions): Promise<KubernetesAgentIdentity> {
    let identity: KubernetesAgentIdentity | null = null;
    const watch = await watchFileSet(
      [options.policyFile],
      (files) => {
        // A bad edit throws here and the policy in force stays.
        const next = PoolPolicy.parse(files.get(options.policyFile)!.toString('utf8'), options.policyFile);
        if (identity) identity.policy = next;
        options.logger.info('pool policy reloaded', { file: options.policyFile });
      },
      { logger: options.logger },
    );
    const policy = PoolPolicy.parse(watch.initial.get(options.policyFile)!.toString('utf8'), options.policyFile);
    const kube = loadKubeClient(options.kubeconfigFile);
    // Pods of the namespaces the policy names at start; a policy that adds namespaces takes a restart.
    const pods = await PodWatch.start({ kube, namespaces: policy.namespaces(), logger: options.logger.child({ component: 'pod-watch' }) });
    const verifier = new PodIdentityVerifier({ kube, audience: options.audience, cachedPod: (namespace, podName) => pods.cached(namespace, podName) });
    identity = new KubernetesAgentIdentity(verifier, policy, watch, pods, kube);
    return identity;
  }

  async podFor(token: string, claimedPodName: string, pool: string | null): Promise<PodRef> {
    const identity = await this.verifier.verify(token, { podName: claimedPodName });
    if (pool !== null) {
      if (identity.terminating) throw new PodIdentityError('forbidden', 'POD_TERMINATING', `pod ${identity.namespace}/${identity.podName} is being deleted: it may release keys but not claim new ones`);
      this.policy.assertAllowed(identity, pool);
    }
    // Namespaced: two pods of one name in different namespaces are different holders.
    return { podName: `${identity.namespace}/${identity.podName}`, podUid: identity.podUid };
  }

  /**
   * The pod of a lease is gone from the API (deleted, or replaced under its name). Shown only: a deleted
   * pod's containers may still run on a lost node, so the lease and the agent's fence decide, not this.
   */
  isOrphaned(lease: PodRef): boolean {
    const slash = lease.podName.indexOf('/');
    // A holder without a namespace was not claimed through Kubernetes identity: nothing to look up.
    if (slash < 0) return false;
    return this.pods.isOrphaned(lease.podName.slice(0, slash), lease.podName.slice(slash + 1), lease.podUid ?? undefined);
  }

  async close(): Promise<void> {
    this.watch.close();
    await this.pods.stop();
    this.kube.close();
  }
}
