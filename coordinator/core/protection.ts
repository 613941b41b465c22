/**
 * Slashing protection kept per key in the replicated state, in EIP-3076's minimal form: the highest
 * block slot and the highest attestation source and target epoch the key has signed, as decimal
 * strings (they are uint64 on the wire). A signer that refuses anything at or below them cannot sign a
 * slashable message with respect to the history they summarise.
 */
export interface KeyProtection {
  readonly maxBlockSlot: string | null;
  readonly maxSourceEpoch: string | null;
  readonly maxTargetEpoch: string | null;
}

const UINT64 = /^(0|[1-9][0-9]{0,19})$/;
const MAX_UINT64 = (1n << 64n) - 1n;
const FIELDS = ['maxBlockSlot', 'maxSourceEpoch', 'maxTargetEpoch'] as const;

/** Why `value` is not a KeyProtection, or null when it is one. */
export function protectionProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return 'slashing protection must be an object';
  for (const field of FIELDS) {
    const mark = (value as Record<string, unknown>)[field];
    if (mark === null) continue;
    if (typeof mark !== 'string' || !UINT64.test(mark) || BigInt(mark) > MAX_UINT64) return `${field} must be null or a uint64 in decimal`;
  }
  return null;
}

/** The higher of each watermark: merging never moves one backwards. */
export function mergeProtection(a: KeyProtection | null, b: KeyProtection | null): KeyProtection | null {
  if (a === null) return b;
  if (b === null) return a;
  return { maxBlockSlot: higher(a.maxBlockSlot, b.maxBlockSlot), maxSourceEpoch: higher(a.maxSourceEpoch, b.maxSourceEpoch), maxTargetEpoch: higher(a.maxTargetEpoch, b.maxTargetEpoch) };
}

function higher(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return BigInt(a) >= BigInt(b) ? a : b;
}
