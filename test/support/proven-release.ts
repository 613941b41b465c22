import type { ClaimedKeys, CoordinatorClient } from '../../agent/coordinator-client.js';
import { emptyInterchange, serializeInterchange } from '../../shared/eth/slashing-protection/index.js';

/**
 * What a remote-signer agent sends on release: an EIP-3076 record for each key (empty here: nothing was
 * signed). With it, and a claim made in signer mode, the keys are free at once instead of quarantined.
 */
export function signerProtection(lease: Pick<ClaimedKeys, 'genesisValidatorsRoot' | 'keys'>): string {
  return serializeInterchange({ ...emptyInterchange(lease.genesisValidatorsRoot), data: lease.keys.map((k) => ({ pubkey: k.pubKey, signedBlocks: [], signedAttestations: [] })) });
}

/** Claims in signer mode, as the default agent does. */
export function claimAsSigner(client: CoordinatorClient, podName: string, count: number, timeoutMs: number): Promise<ClaimedKeys> {
  return client.claim(podName, 'default', count, timeoutMs, 'signer');
}

/** Releases a signer-mode lease with its (empty) protection: the keys go straight back to the pool. */
export async function releaseAsSigner(client: CoordinatorClient, podName: string, lease: ClaimedKeys, timeoutMs: number, requestId?: string): Promise<void> {
  const { quarantined } = await client.release(podName, lease.leaseId, timeoutMs, { slashingProtection: signerProtection(lease), ...(requestId ? { requestId } : {}) });
  if (quarantined.length > 0) throw new Error(`release of ${lease.leaseId} quarantined ${quarantined.length} keys: was the claim made in signer mode?`);
}
