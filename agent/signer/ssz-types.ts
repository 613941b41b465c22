import { bitList, bitVector, byteList, byteVector, container, list, uint, vector, type ContainerType } from './ssz/index.js';
import { PRESETS, type Preset, type PresetName } from '../../shared/eth/consensus-preset.js';

/**
 * The consensus-specs containers whose roots a validator signs, with the specs' own (snake_case) field
 * names, which are also the JSON keys of the remote signing API. uint64 values are bigints: slots and
 * indices arrive as decimal strings and may exceed 2^53.
 */
export type SszContainer = ContainerType;

const Uint64 = uint(8);
const Uint256 = uint(32);
const Bytes4 = byteVector(4);
const Bytes20 = byteVector(20);
const Bytes32 = byteVector(32);
const Bytes48 = byteVector(48);
const Bytes96 = byteVector(96);

/** Containers that no preset value sizes: the same on every network. */
export const ForkData = container({ current_version: Bytes4, genesis_validators_root: Bytes32 });
export const SigningData = container({ object_root: Bytes32, domain: Bytes32 });
export const Fork = container({ previous_version: Bytes4, current_version: Bytes4, epoch: Uint64 });
export const Checkpoint = container({ epoch: Uint64, root: Bytes32 });
export const AttestationData = container({ slot: Uint64, index: Uint64, beacon_block_root: Bytes32, source: Checkpoint, target: Checkpoint });
export const BeaconBlockHeader = container({ slot: Uint64, proposer_index: Uint64, parent_root: Bytes32, state_root: Bytes32, body_root: Bytes32 });
export const VoluntaryExit = container({ epoch: Uint64, validator_index: Uint64 });
export const DepositMessage = container({ pubkey: Bytes48, withdrawal_credentials: Bytes32, amount: Uint64 });
export const SyncAggregatorSelectionData = container({ slot: Uint64, subcommittee_index: Uint64 });
export const ValidatorRegistrationV1 = container({ fee_recipient: Bytes20, gas_limit: Uint64, timestamp: Uint64, pubkey: Bytes48 });
/** A lone uint64 (slot or epoch) as hash_tree_root sees it, for AGGREGATION_SLOT and RANDAO_REVEAL. */
export const Uint64Type = Uint64;

export const BLOCK_VERSIONS = ['PHASE0', 'ALTAIR', 'BELLATRIX', 'CAPELLA', 'DENEB', 'ELECTRA', 'FULU'] as const;
export type BlockVersion = (typeof BLOCK_VERSIONS)[number];
/** Versions whose full blocks (not only headers) this signer can hash. */
export type FullBlockVersion = 'PHASE0' | 'ALTAIR' | 'BELLATRIX' | 'CAPELLA';

/** The containers whose shape depends on the preset (list limits, bitvector lengths). */
export interface PresetTypes {
  readonly preset: Preset;
  readonly AggregateAndProof: SszContainer;
  readonly AggregateAndProofElectra: SszContainer;
  readonly ContributionAndProof: SszContainer;
  readonly BeaconBlock: Readonly<Record<FullBlockVersion, SszContainer>>;
  /** Bellatrix and later blocks whose body carries an execution payload header instead of the payload. */
  readonly BlindedBeaconBlock: Readonly<Record<'BELLATRIX' | 'CAPELLA', SszContainer>>;
}

const cache = new Map<PresetName, PresetTypes>();

export function typesFor(name: PresetName): PresetTypes {
  let types = cache.get(name);
  if (!types) {
    types = buildTypes(PRESETS[name]);
    cache.set(name, types);
  }
  return types;
}

function buildTypes(p: Preset): PresetTypes {
  // phase0
  const SignedBeaconBlockHeader = container({ message: BeaconBlockHeader, signature: Bytes96 });
  const ProposerSlashing = container({ signed_header_1: SignedBeaconBlockHeader, signed_header_2: SignedBeaconBlockHeader });
  const IndexedAttestation = container({
    attesting_indices: list(Uint64, p.MAX_VALIDATORS_PER_COMMITTEE),
    data: AttestationData,
    signature: Bytes96,
  });
  const AttesterSlashing = container({ attestation_1: IndexedAttestation, attestation_2: IndexedAttestation });
  const Attestation = container({ aggregation_bits: bitList(p.MAX_VALIDATORS_PER_COMMITTEE), data: AttestationData, signature: Bytes96 });
  const DepositData = container({ pubkey: Bytes48, withdrawal_credentials: Bytes32, amount: Uint64, signature: Bytes96 });
  // DEPOSIT_CONTRACT_TREE_DEPTH + 1 = 33 proof nodes.
  const Deposit = container({ proof: vector(Bytes32, 33), data: DepositData });
  const SignedVoluntaryExit = container({ message: VoluntaryExit, signature: Bytes96 });
  const Eth1Data = container({ deposit_root: Bytes32, deposit_count: Uint64, block_hash: Bytes32 });
  const phase0Body = {
    randao_reveal: Bytes96,
    eth1_data: Eth1Data,
    graffiti: Bytes32,
    proposer_slashings: list(ProposerSlashing, p.MAX_PROPOSER_SLASHINGS),
    attester_slashings: list(AttesterSlashing, p.MAX_ATTESTER_SLASHINGS),
    attestations: list(Attestation, p.MAX_ATTESTATIONS),
    deposits: list(Deposit, p.MAX_DEPOSITS),
    voluntary_exits: list(SignedVoluntaryExit, p.MAX_VOLUNTARY_EXITS),
  };
  const AggregateAndProof = container({ aggregator_index: Uint64, aggregate: Attestation, selection_proof: Bytes96 });

  // altair
  const SyncAggregate = container({ sync_committee_bits: bitVector(p.SYNC_COMMITTEE_SIZE), sync_committee_signature: Bytes96 });
  const altairBody = { ...phase0Body, sync_aggregate: SyncAggregate };
  const SyncCommitteeContribution = container({
    slot: Uint64,
    beacon_block_root: Bytes32,
    subcommittee_index: Uint64,
    aggregation_bits: bitVector(p.SYNC_COMMITTEE_SIZE / p.SYNC_COMMITTEE_SUBNET_COUNT),
    signature: Bytes96,
  });
  const ContributionAndProof = container({ aggregator_index: Uint64, contribution: SyncCommitteeContribution, selection_proof: Bytes96 });

  // bellatrix
  const payloadCommon = {
    parent_hash: Bytes32,
    fee_recipient: Bytes20,
    state_root: Bytes32,
    receipts_root: Bytes32,
    logs_bloom: byteVector(p.BYTES_PER_LOGS_BLOOM),
    prev_randao: Bytes32,
    block_number: Uint64,
    gas_limit: Uint64,
    gas_used: Uint64,
    timestamp: Uint64,
    extra_data: byteList(p.MAX_EXTRA_DATA_BYTES),
    base_fee_per_gas: Uint256,
    block_hash: Bytes32,
  };
  const transactions = list(byteList(p.MAX_BYTES_PER_TRANSACTION), p.MAX_TRANSACTIONS_PER_PAYLOAD);
  const bellatrixPayload = container({ ...payloadCommon, transactions });
  const bellatrixPayloadHeader = container({ ...payloadCommon, transactions_root: Bytes32 });

  // capella
  const Withdrawal = container({ index: Uint64, validator_index: Uint64, address: Bytes20, amount: Uint64 });
  const capellaPayload = container({ ...payloadCommon, transactions, withdrawals: list(Withdrawal, p.MAX_WITHDRAWALS_PER_PAYLOAD) });
  const capellaPayloadHeader = container({ ...payloadCommon, transactions_root: Bytes32, withdrawals_root: Bytes32 });
  const BLSToExecutionChange = container({ validator_index: Uint64, from_bls_pubkey: Bytes48, to_execution_address: Bytes20 });
  const blsChanges = list(container({ message: BLSToExecutionChange, signature: Bytes96 }), p.MAX_BLS_TO_EXECUTION_CHANGES);

  // electra: one aggregate spans every committee of the slot.
  const AttestationElectra = container({
    aggregation_bits: bitList(p.MAX_VALIDATORS_PER_COMMITTEE * p.MAX_COMMITTEES_PER_SLOT),
    data: AttestationData,
    signature: Bytes96,
    committee_bits: bitVector(p.MAX_COMMITTEES_PER_SLOT),
  });
  const AggregateAndProofElectra = container({ aggregator_index: Uint64, aggregate: AttestationElectra, selection_proof: Bytes96 });

  const block = (body: SszContainer) => container({ slot: Uint64, proposer_index: Uint64, parent_root: Bytes32, state_root: Bytes32, body });
  return {
    preset: p,
    AggregateAndProof,
    AggregateAndProofElectra,
    ContributionAndProof,
    BeaconBlock: {
      PHASE0: block(container(phase0Body)),
      ALTAIR: block(container(altairBody)),
      BELLATRIX: block(container({ ...altairBody, execution_payload: bellatrixPayload })),
      CAPELLA: block(container({ ...altairBody, execution_payload: capellaPayload, bls_to_execution_changes: blsChanges })),
    },
    BlindedBeaconBlock: {
      BELLATRIX: block(container({ ...altairBody, execution_payload_header: bellatrixPayloadHeader })),
      CAPELLA: block(container({ ...altairBody, execution_payload_header: capellaPayloadHeader, bls_to_execution_changes: blsChanges })),
    },
  };
}
