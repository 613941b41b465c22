import { SlashingProtectionError } from './errors.js';
import { INTERCHANGE_FORMAT_VERSION, type Interchange, type InterchangeRecord } from './interchange.js';
import { higherWatermarks, NO_WATERMARKS, watermarksByKey, type Watermarks } from './watermarks.js';

/**
 * Merges two interchanges of the same chain into the minimal form that EIP-3076 recommends for minimal
 * databases ("take the maximum slot block and maximum source and target attestations ... and merge them
 * with any existing values"): one entry per key, sorted by key, holding at most one block (the highest
 * slot) and one attestation (the highest source epoch with the highest target epoch). No watermark of
 * either input is ever lowered, and the result depends only on the watermarks, so the merge is
 * commutative, associative and idempotent.
 *
 * Signing roots are dropped: the synthesised attestation may pair a source and target that were never
 * signed together, and without a root EIP-3076 condition 1 makes a signer treat any message at that
 * slot as slashable, which is the safe reading after a key changes hands.
 */
export function mergeInterchanges(a: Interchange, b: Interchange): Interchange {
  if (a.metadata.genesisValidatorsRoot !== b.metadata.genesisValidatorsRoot) {
    throw new SlashingProtectionError(
      'INTERCHANGE_GENESIS',
      `cannot merge slashing protection of two chains (genesis_validators_root ${a.metadata.genesisValidatorsRoot} and ${b.metadata.genesisValidatorsRoot}): keep each network's data apart`,
    );
  }
  const marksA = watermarksByKey(a);
  const marksB = watermarksByKey(b);
  const pubkeys = [...new Set([...marksA.keys(), ...marksB.keys()])].sort();
  return {
    metadata: { interchangeFormatVersion: INTERCHANGE_FORMAT_VERSION, genesisValidatorsRoot: a.metadata.genesisValidatorsRoot },
    data: pubkeys.map((pubkey) => minimalRecord(pubkey, higherWatermarks(marksA.get(pubkey) ?? NO_WATERMARKS, marksB.get(pubkey) ?? NO_WATERMARKS))),
  };
}

function minimalRecord(pubkey: string, marks: Watermarks): InterchangeRecord {
  return {
    pubkey,
    signedBlocks: marks.maxBlockSlot === null ? [] : [{ slot: marks.maxBlockSlot }],
    // Source and target are both set by any attestation, so one being null means both are.
    signedAttestations: marks.maxSourceEpoch === null || marks.maxTargetEpoch === null ? [] : [{ sourceEpoch: marks.maxSourceEpoch, targetEpoch: marks.maxTargetEpoch }],
  };
}
