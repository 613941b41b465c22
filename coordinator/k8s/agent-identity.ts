import type { AgentIdentity } from '../api/grpc-server.js';
import type { Logger } from '../../shared/log/logger.js';
import { PodIdentityError } from './identity/identity-error.js';
import { PodIdentityVerifier } from './identity/pod-identity-verifier.js';
import { PoolPolicy } from './identity/pool-policy.js';
import { loadKubeConfig } from './kube-config.js';
import { watchFileSet, type FileSetWatch } from './reload.js';

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
    const verifier = new PodIdentityVerifier({ kubeConfig: loadKubeConfig(options.kubeconfigFile), audience: options.audience });
    identity = new KubernetesAgentIdentity(verifier, policy, watch);
    return identity;
  }

  async podFor(token: string, claimedPodName: string, pool: string | null): Promise<string> {
    const identity = await this.verifier.verify(token, { podName: claimedPodName });
    if (pool !== null) {
      if (identity.terminating) throw new PodIdentityError('forbidden', 'POD_TERMINATING', `pod ${identity.namespace}/${identity.podName} is being deleted: it may release keys but not claim new ones`);
      this.policy.assertAllowed(identity, pool);
    }
    return identity.podName;
  }

  close(): void {
    this.watch.close();
  }
}
