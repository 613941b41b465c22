import type { PodRef } from '../core/index.js';

/**
 * Who an agent's call acts for. The agent API asks it on every call; the Kubernetes implementation
 * (k8s/agent-identity.ts) proves the pod with its ServiceAccount token. Refusals are PodIdentityErrors.
 */
export interface AgentIdentity {
  /**
   * The pod to act for, taken from the token's review (named `namespace/podName`, with its uid);
   * `pool` is checked against the policy for claims.
   */
  podFor(token: string, claimedPodName: string, pool: string | null): Promise<PodRef>;
}
