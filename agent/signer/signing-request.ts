import { computeDomain, computeSigningRoot, DOMAIN, forkVersionAt, type DomainType } from './domain.js';
import {
  AttestationData,
  BeaconBlockHeader,
  BLOCK_VERSIONS,
  DepositMessage,
  SyncAggregatorSelectionData,
  Uint64Type,
  ValidatorRegistrationV1,
  VoluntaryExit,
  type BlockVersion,
  type FullBlockVersion,
  type PresetTypes,
  type SszContainer,
} from './ssz-types.js';
import { hashTreeRoot } from './ssz/index.js';
import { describe, fromWire, hexAt, objectAt, requestError, stringAt, uintAt } from './wire.js';

/** What a sign request is checked and signed against: the agent's network, and its preset's types. */
export interface NetworkContext {
  readonly genesisValidatorsRoot: Uint8Array;
  readonly genesisForkVersion: Uint8Array;
  readonly types: PresetTypes;
}

/** The part of a message EIP-3076 protects; null for messages that cannot be slashed. */
export type SlashableMessage = { readonly kind: 'block'; readonly slot: bigint } | { readonly kind: 'attestation'; readonly sourceEpoch: bigint; readonly targetEpoch: bigint };

export interface SigningRequest {
  readonly type: string;
  /** compute_signing_root of the message, computed here from the message, domain and fork_info. */
  readonly signingRoot: Uint8Array;
  /** The root the client says it expects (`signingRoot`, or `signing_root`); null if it sent none. */
  readonly claimedRoot: Uint8Array | null;
  readonly slashable: SlashableMessage | null;
}

interface Fork {
  readonly previousVersion: Uint8Array;
  readonly currentVersion: Uint8Array;
  readonly epoch: bigint;
}

interface Message {
  readonly objectRoot: Uint8Array;
  readonly domain: Uint8Array;
  readonly slashable: SlashableMessage | null;
}

type Handler = (body: Record<string, unknown>, network: NetworkContext) => Message;

/**
 * Parses a request body of `POST /api/v1/eth2/sign/{identifier}` (ethereum/remote-signing-api) and
 * computes the root to sign. Every message type of the API is known; anything malformed throws
 * SIGNER_REQUEST naming the field.
 */
export function parseSigningRequest(json: unknown, network: NetworkContext): SigningRequest {
  const body = objectAt(json, 'the request body');
  const type = stringAt(body['type'], 'type');
  const handler = Object.hasOwn(HANDLERS, type) ? HANDLERS[type] : undefined;
  if (!handler) throw requestError(`type ${describe(type)} is not a message type of the remote signing API: use one of ${Object.keys(HANDLERS).join(', ')}`);
  const message = handler(body, network);
  return { type, signingRoot: computeSigningRoot(message.objectRoot, message.domain), claimedRoot: claimedRootOf(body), slashable: message.slashable };
}

const HANDLERS: Readonly<Record<string, Handler>> = {
  // The deprecated form: a phase0 block in `block`.
  BLOCK: (body, network) => blockMessage(fromWire(network.types.BeaconBlock.PHASE0, body['block'], 'block'), network.types.BeaconBlock.PHASE0, body, network),
  BLOCK_V2: (body, network) => {
    const beaconBlock = objectAt(body['beacon_block'], 'beacon_block');
    const version = blockVersionAt(beaconBlock['version'], 'beacon_block.version');
    if (beaconBlock['block_header'] !== undefined && beaconBlock['block'] !== undefined) {
      throw requestError('beacon_block has both block and block_header: send one of them');
    }
    if (beaconBlock['block_header'] !== undefined) {
      // hash_tree_root(BeaconBlock) equals the root of its header, whose body_root is the body's root.
      return blockMessage(fromWire(BeaconBlockHeader, beaconBlock['block_header'], 'beacon_block.block_header'), BeaconBlockHeader, body, network);
    }
    const blockType = fullBlockType(beaconBlock['block'], version, network.types);
    return blockMessage(fromWire(blockType, beaconBlock['block'], 'beacon_block.block'), blockType, body, network);
  },
  ATTESTATION: (body, network) => {
    const data = fromWire(AttestationData, body['attestation'], 'attestation') as { source: { epoch: bigint }; target: { epoch: bigint } };
    return {
      objectRoot: hashTreeRoot(AttestationData, data),
      domain: forkDomain(DOMAIN.BEACON_ATTESTER, data.target.epoch, body, network),
      slashable: { kind: 'attestation', sourceEpoch: data.source.epoch, targetEpoch: data.target.epoch },
    };
  },
  AGGREGATION_SLOT: (body, network) => {
    const slot = uintAt(objectAt(body['aggregation_slot'], 'aggregation_slot')['slot'], 8, 'aggregation_slot.slot');
    return unslashable(hashTreeRoot(Uint64Type, slot), forkDomain(DOMAIN.SELECTION_PROOF, epochOf(slot, network), body, network));
  },
  AGGREGATE_AND_PROOF: (body, network) => aggregateAndProof(network.types.AggregateAndProof, body['aggregate_and_proof'], 'aggregate_and_proof', body, network),
  AGGREGATE_AND_PROOF_V2: (body, network) => {
    const request = objectAt(body['aggregate_and_proof'], 'aggregate_and_proof');
    const version = blockVersionAt(request['version'], 'aggregate_and_proof.version');
    const type = version === 'ELECTRA' || version === 'FULU' ? network.types.AggregateAndProofElectra : network.types.AggregateAndProof;
    return aggregateAndProof(type, request['data'], 'aggregate_and_proof.data', body, network);
  },
  RANDAO_REVEAL: (body, network) => {
    const epoch = uintAt(objectAt(body['randao_reveal'], 'randao_reveal')['epoch'], 8, 'randao_reveal.epoch');
    return unslashable(hashTreeRoot(Uint64Type, epoch), forkDomain(DOMAIN.RANDAO, epoch, body, network));
  },
  // Since Deneb (EIP-7044) exits are signed under the Capella fork version whatever the current fork;
  // the client chooses that through fork_info, so the rule here is the same as for other messages.
  VOLUNTARY_EXIT: (body, network) => {
    const exit = fromWire(VoluntaryExit, body['voluntary_exit'], 'voluntary_exit') as { epoch: bigint };
    return unslashable(hashTreeRoot(VoluntaryExit, exit), forkDomain(DOMAIN.VOLUNTARY_EXIT, exit.epoch, body, network));
  },
  SYNC_COMMITTEE_MESSAGE: (body, network) => {
    const message = objectAt(body['sync_committee_message'], 'sync_committee_message');
    const slot = uintAt(message['slot'], 8, 'sync_committee_message.slot');
    // The signed object is the block root itself (a Root is its own hash_tree_root).
    const blockRoot = hexAt(message['beacon_block_root'], 'sync_committee_message.beacon_block_root', 32, 32);
    return unslashable(blockRoot, forkDomain(DOMAIN.SYNC_COMMITTEE, epochOf(slot, network), body, network));
  },
  SYNC_COMMITTEE_SELECTION_PROOF: (body, network) => {
    const data = fromWire(SyncAggregatorSelectionData, body['sync_aggregator_selection_data'], 'sync_aggregator_selection_data') as { slot: bigint };
    return unslashable(hashTreeRoot(SyncAggregatorSelectionData, data), forkDomain(DOMAIN.SYNC_COMMITTEE_SELECTION_PROOF, epochOf(data.slot, network), body, network));
  },
  SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF: (body, network) => {
    const type = network.types.ContributionAndProof;
    const value = fromWire(type, body['contribution_and_proof'], 'contribution_and_proof') as { contribution: { slot: bigint } };
    return unslashable(hashTreeRoot(type, value), forkDomain(DOMAIN.CONTRIBUTION_AND_PROOF, epochOf(value.contribution.slot, network), body, network));
  },
  // Builder registrations are chain-independent: genesis fork version and a zero validators root.
  VALIDATOR_REGISTRATION: (body, network) => {
    const registration = fromWire(ValidatorRegistrationV1, body['validator_registration'], 'validator_registration');
    return unslashable(hashTreeRoot(ValidatorRegistrationV1, registration), computeDomain(DOMAIN.APPLICATION_BUILDER, network.genesisForkVersion));
  },
  // Deposits are signed before the chain exists: genesis fork version and a zero validators root.
  DEPOSIT: (body, network) => {
    const deposit = objectAt(body['deposit'], 'deposit');
    const message = fromWire(DepositMessage, deposit, 'deposit');
    const forkVersion = hexAt(deposit['genesis_fork_version'], 'deposit.genesis_fork_version', 4, 4);
    if (!equalBytes(forkVersion, network.genesisForkVersion)) {
      throw requestError(`deposit.genesis_fork_version ${hex(forkVersion)} is not this network's genesis fork version ${hex(network.genesisForkVersion)}: a deposit is signed for the network the agent serves only`);
    }
    return unslashable(hashTreeRoot(DepositMessage, message), computeDomain(DOMAIN.DEPOSIT, forkVersion));
  },
};

function blockMessage(block: unknown, type: SszContainer, body: Record<string, unknown>, network: NetworkContext): Message {
  const slot = (block as { slot: bigint }).slot;
  return { objectRoot: hashTreeRoot(type, block), domain: forkDomain(DOMAIN.BEACON_PROPOSER, epochOf(slot, network), body, network), slashable: { kind: 'block', slot } };
}

function aggregateAndProof(type: SszContainer, json: unknown, at: string, body: Record<string, unknown>, network: NetworkContext): Message {
  const value = fromWire(type, json, at) as { aggregate: { data: { slot: bigint } } };
  return unslashable(hashTreeRoot(type, value), forkDomain(DOMAIN.AGGREGATE_AND_PROOF, epochOf(value.aggregate.data.slot, network), body, network));
}

function unslashable(objectRoot: Uint8Array, domain: Uint8Array): Message {
  return { objectRoot, domain, slashable: null };
}

function fullBlockType(json: unknown, version: BlockVersion, types: PresetTypes): SszContainer {
  if (version === 'DENEB' || version === 'ELECTRA' || version === 'FULU') {
    throw requestError(`beacon_block.block: full ${version} blocks are not supported; send the block as beacon_block.block_header`);
  }
  if (version !== 'BELLATRIX' && version !== 'CAPELLA') return types.BeaconBlock[version as FullBlockVersion];
  const blinded = (json as { body?: { execution_payload_header?: unknown } } | null)?.body?.execution_payload_header !== undefined;
  return blinded ? types.BlindedBeaconBlock[version] : types.BeaconBlock[version];
}

function blockVersionAt(json: unknown, at: string): BlockVersion {
  const version = stringAt(json, at).toUpperCase();
  if (!(BLOCK_VERSIONS as readonly string[]).includes(version)) throw requestError(`${at} ${describe(json)} is not one of ${BLOCK_VERSIONS.join(', ')}`);
  return version as BlockVersion;
}

/** get_domain for a message of `epoch`, from the request's fork_info, which must be of this network. */
function forkDomain(domainType: DomainType, epoch: bigint, body: Record<string, unknown>, network: NetworkContext): Uint8Array {
  const info = objectAt(body['fork_info'], 'fork_info');
  const fork = forkAt(info['fork']);
  const genesisValidatorsRoot = hexAt(info['genesis_validators_root'], 'fork_info.genesis_validators_root', 32, 32);
  if (!equalBytes(genesisValidatorsRoot, network.genesisValidatorsRoot)) {
    throw requestError(`fork_info.genesis_validators_root ${hex(genesisValidatorsRoot)} is not this network's (${hex(network.genesisValidatorsRoot)}): the validator client is on another chain`);
  }
  return computeDomain(domainType, forkVersionAt(fork, epoch), genesisValidatorsRoot);
}

function forkAt(json: unknown): Fork {
  const fork = objectAt(json, 'fork_info.fork');
  return {
    previousVersion: hexAt(fork['previous_version'], 'fork_info.fork.previous_version', 4, 4),
    currentVersion: hexAt(fork['current_version'], 'fork_info.fork.current_version', 4, 4),
    epoch: uintAt(fork['epoch'], 8, 'fork_info.fork.epoch'),
  };
}

/** The API names it `signingRoot`; some clients send `signing_root`. Both, disagreeing, is an error. */
function claimedRootOf(body: Record<string, unknown>): Uint8Array | null {
  const camel = body['signingRoot'] === undefined ? null : hexAt(body['signingRoot'], 'signingRoot', 32, 32);
  const snake = body['signing_root'] === undefined ? null : hexAt(body['signing_root'], 'signing_root', 32, 32);
  if (camel && snake && !equalBytes(camel, snake)) throw requestError('signingRoot and signing_root differ: send one of them');
  return camel ?? snake;
}

function epochOf(slot: bigint, network: NetworkContext): bigint {
  return slot / network.types.preset.SLOTS_PER_EPOCH;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

export function hex(bytes: Uint8Array): string {
  return '0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}
