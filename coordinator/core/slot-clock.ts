import type { KeyProtection } from './protection.js';
import type { PoolSettings } from './types.js';

/**
 * S8, watermarks from the wall clock: a key whose last holder's final watermarks are unknown gets, when
 * it is next claimed, a block-slot watermark at the network's current slot and an attestation-target
 * watermark at the current epoch, so its next holder cannot sign anything the last one could have.
 * One slot is added for a last holder whose clock ran ahead of ours. Null: the pool has no slot clock.
 */
export function clockWatermarks(pool: Pick<PoolSettings, 'genesisTimeMs' | 'slotMs' | 'slotsPerEpoch'>, nowMs: number): KeyProtection | null {
  const { genesisTimeMs, slotMs, slotsPerEpoch } = pool;
  if (genesisTimeMs === null || genesisTimeMs === undefined || !slotMs || !slotsPerEpoch) return null;
  const aheadMs = nowMs + slotMs - genesisTimeMs;
  // Before genesis nothing can have been signed.
  if (aheadMs < 0) return { maxBlockSlot: null, maxSourceEpoch: null, maxTargetEpoch: null };
  const slot = Math.floor(aheadMs / slotMs);
  return { maxBlockSlot: String(slot), maxSourceEpoch: null, maxTargetEpoch: String(Math.floor(slot / slotsPerEpoch)) };
}

/** Whether the pool can compute clock watermarks (S8) at all. */
export function hasSlotClock(pool: Pick<PoolSettings, 'genesisTimeMs' | 'slotMs' | 'slotsPerEpoch'>): boolean {
  return clockWatermarks(pool, 0) !== null;
}

/** Why the slot-clock settings are unusable, or null (they are optional as a whole). */
export function slotClockProblem(pool: Pick<PoolSettings, 'genesisTimeMs' | 'slotMs' | 'slotsPerEpoch'>): string | null {
  const { genesisTimeMs, slotMs, slotsPerEpoch } = pool;
  if (genesisTimeMs === undefined || genesisTimeMs === null) return slotMs === undefined && slotsPerEpoch === undefined ? null : 'slotMs and slotsPerEpoch need genesisTimeMs';
  if (!Number.isSafeInteger(genesisTimeMs) || genesisTimeMs < 0) return 'genesisTimeMs must be an integer ≥ 0 (milliseconds since the epoch)';
  if (!Number.isSafeInteger(slotMs) || slotMs! < 1) return 'slotMs must be an integer ≥ 1';
  if (!Number.isSafeInteger(slotsPerEpoch) || slotsPerEpoch! < 1) return 'slotsPerEpoch must be an integer ≥ 1';
  return null;
}
