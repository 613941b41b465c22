import type { KeyProtection } from '../core/index.js';
import { INTERCHANGE_FORMAT_VERSION, serializeInterchange, watermarksByKey, type Interchange } from '../../shared/eth/slashing-protection/index.js';

/** Per-key watermarks of an interchange, as the core keeps them (decimal strings). */
export function protectionOf(interchange: Interchange): Record<string, KeyProtection> {
  const byKey: Record<string, KeyProtection> = {};
  for (const [pubKey, marks] of watermarksByKey(interchange)) {
    byKey[pubKey] = {
      maxBlockSlot: marks.maxBlockSlot?.toString() ?? null,
      maxSourceEpoch: marks.maxSourceEpoch?.toString() ?? null,
      maxTargetEpoch: marks.maxTargetEpoch?.toString() ?? null,
    };
  }
  return byKey;
}

/**
 * EIP-3076 in its minimal form: per key one block at the highest slot and one attestation with the
 * highest source and target. Importing it makes a validator client refuse anything at or below them.
 */
export function interchangeOf(genesisValidatorsRoot: string, keys: ReadonlyArray<{ pubKey: string; protection?: KeyProtection | null }>): string {
  const interchange: Interchange = {
    metadata: { interchangeFormatVersion: INTERCHANGE_FORMAT_VERSION, genesisValidatorsRoot },
    data: keys.map(({ pubKey, protection }) => ({
      pubkey: pubKey,
      signedBlocks: protection?.maxBlockSlot != null ? [{ slot: BigInt(protection.maxBlockSlot) }] : [],
      // A target raised from the clock (S8) may come without a source: source 0 then refuses nothing more.
      signedAttestations:
        protection?.maxTargetEpoch != null
          ? [{ sourceEpoch: BigInt(protection.maxSourceEpoch ?? '0'), targetEpoch: BigInt(protection.maxTargetEpoch) }]
          : [],
    })),
  };
  return serializeInterchange(interchange);
}
