import type { Interchange } from './interchange.js';

/**
 * The highest block slot and the highest attestation source and target epoch signed by one key; null
 * where it signed nothing of that kind. A signer that refuses anything at or below these (EIP-3076's
 * "minimal" strategy) can never sign a slashable message with respect to the history they summarise.
 */
export interface Watermarks {
  readonly maxBlockSlot: bigint | null;
  readonly maxSourceEpoch: bigint | null;
  readonly maxTargetEpoch: bigint | null;
}

export const NO_WATERMARKS: Watermarks = { maxBlockSlot: null, maxSourceEpoch: null, maxTargetEpoch: null };

/** Watermarks of one key over every `data[]` entry that names it. */
export function watermarks(interchange: Interchange, pubkey: string): Watermarks {
  return watermarksByKey(interchange).get(pubkey.toLowerCase()) ?? NO_WATERMARKS;
}

/** Watermarks of every key in the interchange, in one pass (pools hold thousands of keys). */
export function watermarksByKey(interchange: Interchange): Map<string, Watermarks> {
  const byKey = new Map<string, Watermarks>();
  for (const record of interchange.data) {
    let marks = byKey.get(record.pubkey) ?? NO_WATERMARKS;
    for (const block of record.signedBlocks) marks = { ...marks, maxBlockSlot: max(marks.maxBlockSlot, block.slot) };
    for (const attestation of record.signedAttestations) {
      marks = { ...marks, maxSourceEpoch: max(marks.maxSourceEpoch, attestation.sourceEpoch), maxTargetEpoch: max(marks.maxTargetEpoch, attestation.targetEpoch) };
    }
    byKey.set(record.pubkey, marks);
  }
  return byKey;
}

export function higherWatermarks(a: Watermarks, b: Watermarks): Watermarks {
  return {
    maxBlockSlot: max(a.maxBlockSlot, b.maxBlockSlot),
    maxSourceEpoch: max(a.maxSourceEpoch, b.maxSourceEpoch),
    maxTargetEpoch: max(a.maxTargetEpoch, b.maxTargetEpoch),
  };
}

function max(a: bigint | null, b: bigint | null): bigint | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}
