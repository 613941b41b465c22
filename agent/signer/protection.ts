import type { Watermarks } from '../../shared/eth/slashing-protection/index.js';
import type { SlashableMessage } from './signing-request.js';

export type ProtectionVerdict = { readonly allowed: true; readonly raised: Watermarks } | { readonly allowed: false; readonly reason: string };

/**
 * EIP-3076's minimal strategy: a block only above the highest block slot signed; an attestation only
 * with source >= the highest source and target > the highest target (and never source > target).
 * A key that obeys this cannot sign a double proposal, a double vote or a surround vote with respect
 * to the history its watermarks summarise. `raised` is what the watermarks become once it is signed.
 */
export function checkProtection(marks: Watermarks, message: SlashableMessage): ProtectionVerdict {
  if (message.kind === 'block') {
    if (marks.maxBlockSlot !== null && message.slot <= marks.maxBlockSlot) {
      return { allowed: false, reason: `a block at slot ${message.slot} is not above the highest slot this key signed a block for (${marks.maxBlockSlot})` };
    }
    return { allowed: true, raised: { ...marks, maxBlockSlot: message.slot } };
  }
  const { sourceEpoch, targetEpoch } = message;
  if (sourceEpoch > targetEpoch) return { allowed: false, reason: `the attestation's source epoch ${sourceEpoch} is after its target epoch ${targetEpoch}` };
  if (marks.maxSourceEpoch !== null && sourceEpoch < marks.maxSourceEpoch) {
    return { allowed: false, reason: `the attestation's source epoch ${sourceEpoch} is below the highest source epoch this key attested from (${marks.maxSourceEpoch})` };
  }
  if (marks.maxTargetEpoch !== null && targetEpoch <= marks.maxTargetEpoch) {
    return { allowed: false, reason: `the attestation's target epoch ${targetEpoch} is not above the highest target epoch this key attested to (${marks.maxTargetEpoch})` };
  }
  const maxSourceEpoch = marks.maxSourceEpoch !== null && marks.maxSourceEpoch > sourceEpoch ? marks.maxSourceEpoch : sourceEpoch;
  return { allowed: true, raised: { ...marks, maxSourceEpoch, maxTargetEpoch: targetEpoch } };
}
