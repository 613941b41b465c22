import type { LodestarLogRecord } from './lodestar.js';

/**
 * What a Lodestar 1.5.1 validator client says it signed, read from its JSON logs at debug level:
 * "Signed attestation" {slot, index, validatorIndex} per validator, then "Published attestations"
 * {slot, count} once the slot's attestations went to the beacon node; "Producing block" {slot,
 * validator: full pubkey} before and "Published block" {slot, validator: shortened pubkey} after a
 * proposal. The logs never say which validator's attestation a publish carried, only the slot.
 */
export interface SignedAttestation {
  readonly validatorIndex: number;
  readonly slot: number;
  readonly committeeIndex: number;
  /** The client logged publishing its attestations of this slot. */
  readonly published: boolean;
}

export interface PublishedBlock {
  readonly slot: number;
  /** 0x-prefixed public key of the proposer. */
  readonly pubkey: string;
}

const numberField = (record: LodestarLogRecord, field: string): number | undefined => {
  const value = record.context?.[field];
  return typeof value === 'number' ? value : undefined;
};

export function signedAttestations(records: readonly LodestarLogRecord[]): SignedAttestation[] {
  const publishedSlots = new Set(records.filter((r) => r.message === 'Published attestations').map((r) => numberField(r, 'slot')));
  return records
    .filter((r) => r.message === 'Signed attestation')
    .map((r) => {
      const slot = numberField(r, 'slot')!;
      return { validatorIndex: numberField(r, 'validatorIndex')!, slot, committeeIndex: numberField(r, 'index')!, published: publishedSlots.has(slot) };
    });
}

export function publishedBlocks(records: readonly LodestarLogRecord[]): PublishedBlock[] {
  const producing = new Map<number, string>();
  const blocks: PublishedBlock[] = [];
  for (const record of records) {
    const slot = numberField(record, 'slot');
    if (slot === undefined) continue;
    if (record.message === 'Producing block') producing.set(slot, String(record.context?.['validator']));
    if (record.message === 'Published block') blocks.push({ slot, pubkey: producing.get(slot) ?? String(record.context?.['validator']) });
  }
  return blocks;
}
