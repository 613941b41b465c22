import type { LodestarLogRecord } from './lodestar.js';

/**
 * What a Lodestar 1.5.1 validator client says it signed, read from its JSON logs at debug level:
 * "Signed attestation" {slot, index, validatorIndex} per validator, then "Published attestations"
 * {slot, count} once the slot's attestations went to the beacon node; "Producing block" {slot,
 * validator: full pubkey} before and "Published block" {slot, validator: shortened pubkey} after a
 * proposal. The logs never say which validator's attestation a publish carried, only the slot.
 * Every record has a `timestamp` (ISO, the machine's wall clock), logged once the signature came back.
 */
export interface SignedAttestation {
  readonly validatorIndex: number;
  readonly slot: number;
  readonly committeeIndex: number;
  /** The client logged publishing its attestations of this slot. */
  readonly published: boolean;
  /** When the client logged the signature (milliseconds since the Unix epoch). */
  readonly at: number;
}

export interface PublishedBlock {
  readonly slot: number;
  /** 0x-prefixed public key of the proposer. */
  readonly pubkey: string;
  /** When the client logged publishing it (milliseconds since the Unix epoch). */
  readonly at: number;
}

/** The duties a Lodestar 1.5.1 client logs one "Signed …" record for, per validator and slot. */
export type DutyKind = 'attestation' | 'aggregate' | 'sync committee message' | 'sync committee contribution';

const SIGNED_DUTY_MESSAGES: Readonly<Record<string, DutyKind>> = {
  'Signed attestation': 'attestation',
  'Signed aggregateAndProofs': 'aggregate',
  'Signed SyncCommitteeMessage': 'sync committee message',
  'Signed SyncCommitteeContribution': 'sync committee contribution',
};

export interface SignedDuty {
  readonly kind: DutyKind;
  readonly validatorIndex: number;
  readonly slot: number;
  /** When the client logged the signature (milliseconds since the Unix epoch). */
  readonly at: number;
}

/** When a record was logged, in milliseconds since the Unix epoch. */
export function loggedAt(record: LodestarLogRecord): number {
  const at = Date.parse(record.timestamp ?? '');
  if (Number.isNaN(at)) throw new Error(`Lodestar log record "${record.message}" has no timestamp`);
  return at;
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
      return { validatorIndex: numberField(r, 'validatorIndex')!, slot, committeeIndex: numberField(r, 'index')!, published: publishedSlots.has(slot), at: loggedAt(r) };
    });
}

/**
 * Every signature the client logged for a validator and slot: attestations, aggregates, sync committee
 * messages and contributions (with Altair, every sync committee member signs a message every slot).
 * Blocks are in `publishedBlocks`.
 */
export function signedDuties(records: readonly LodestarLogRecord[]): SignedDuty[] {
  const duties: SignedDuty[] = [];
  for (const record of records) {
    const kind = SIGNED_DUTY_MESSAGES[record.message];
    const validatorIndex = numberField(record, 'validatorIndex');
    const slot = numberField(record, 'slot');
    if (kind && validatorIndex !== undefined && slot !== undefined) duties.push({ kind, validatorIndex, slot, at: loggedAt(record) });
  }
  return duties;
}

/** Signing errors the client logged per validator ("Error signing attestation", …): what it tried and could not sign. */
export function signingErrors(records: readonly LodestarLogRecord[]): Array<{ readonly message: string; readonly validatorIndex: number; readonly slot: number; readonly at: number }> {
  return records
    .filter((r) => r.message.startsWith('Error signing') && numberField(r, 'validatorIndex') !== undefined)
    .map((r) => ({ message: r.message, validatorIndex: numberField(r, 'validatorIndex')!, slot: numberField(r, 'slot') ?? -1, at: loggedAt(r) }));
}

export function publishedBlocks(records: readonly LodestarLogRecord[]): PublishedBlock[] {
  const producing = new Map<number, string>();
  const blocks: PublishedBlock[] = [];
  for (const record of records) {
    const slot = numberField(record, 'slot');
    if (slot === undefined) continue;
    if (record.message === 'Producing block') producing.set(slot, String(record.context?.['validator']));
    if (record.message === 'Published block') blocks.push({ slot, pubkey: producing.get(slot) ?? String(record.context?.['validator']), at: loggedAt(record) });
  }
  return blocks;
}
