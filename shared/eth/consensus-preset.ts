/**
 * The consensus-specs preset values the signer's messages depend on (presets/{mainnet,minimal}/*.yaml).
 * Only those that differ between the two presets, or that size a list whose root we compute, are here.
 */
export const PRESET_NAMES = ['mainnet', 'minimal'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export interface Preset {
  readonly name: PresetName;
  readonly SLOTS_PER_EPOCH: bigint;
  readonly MAX_VALIDATORS_PER_COMMITTEE: number;
  readonly MAX_COMMITTEES_PER_SLOT: number;
  readonly MAX_PROPOSER_SLASHINGS: number;
  readonly MAX_ATTESTER_SLASHINGS: number;
  readonly MAX_ATTESTATIONS: number;
  readonly MAX_DEPOSITS: number;
  readonly MAX_VOLUNTARY_EXITS: number;
  readonly SYNC_COMMITTEE_SIZE: number;
  readonly SYNC_COMMITTEE_SUBNET_COUNT: number;
  readonly MAX_BYTES_PER_TRANSACTION: number;
  readonly MAX_TRANSACTIONS_PER_PAYLOAD: number;
  readonly BYTES_PER_LOGS_BLOOM: number;
  readonly MAX_EXTRA_DATA_BYTES: number;
  readonly MAX_WITHDRAWALS_PER_PAYLOAD: number;
  readonly MAX_BLS_TO_EXECUTION_CHANGES: number;
}

const MAINNET: Preset = {
  name: 'mainnet',
  SLOTS_PER_EPOCH: 32n,
  MAX_VALIDATORS_PER_COMMITTEE: 2048,
  MAX_COMMITTEES_PER_SLOT: 64,
  MAX_PROPOSER_SLASHINGS: 16,
  MAX_ATTESTER_SLASHINGS: 2,
  MAX_ATTESTATIONS: 128,
  MAX_DEPOSITS: 16,
  MAX_VOLUNTARY_EXITS: 16,
  SYNC_COMMITTEE_SIZE: 512,
  SYNC_COMMITTEE_SUBNET_COUNT: 4,
  MAX_BYTES_PER_TRANSACTION: 2 ** 30,
  MAX_TRANSACTIONS_PER_PAYLOAD: 2 ** 20,
  BYTES_PER_LOGS_BLOOM: 256,
  MAX_EXTRA_DATA_BYTES: 32,
  MAX_WITHDRAWALS_PER_PAYLOAD: 16,
  MAX_BLS_TO_EXECUTION_CHANGES: 16,
};

const MINIMAL: Preset = {
  ...MAINNET,
  name: 'minimal',
  SLOTS_PER_EPOCH: 8n,
  MAX_COMMITTEES_PER_SLOT: 4,
  SYNC_COMMITTEE_SIZE: 32,
  MAX_WITHDRAWALS_PER_PAYLOAD: 4,
};

export const PRESETS: Readonly<Record<PresetName, Preset>> = { mainnet: MAINNET, minimal: MINIMAL };
