import type { FlagSpec, FlagValues } from '../shared/cli/flags.js';
import { ConfigError } from '../shared/errors/keylease-error.js';
import { KNOWN_NETWORK_NAMES, KNOWN_NETWORKS, type KnownNetworkName } from '../shared/eth/networks.js';

/**
 * The network a pool serves, named (mainnet, hoodi, …) or given in full. A custom network gets nothing
 * from mainnet: a fork version or root left out would sign deposits and scope slashing protection for
 * the wrong chain, so every one of them must be given.
 */
export interface PoolNetwork {
  /** A known network's name, or 'custom'. */
  readonly name: string;
  /** Null for a custom network given without --chain-id (then no execution endpoint may be used). */
  readonly chainId: number | null;
  readonly genesisForkVersion: string;
  readonly genesisValidatorsRoot: string;
  readonly depositContractAddress: string;
  readonly depositContractBlock: number;
  /** The beacon chain's slot clock (S8); null for a custom network given without --genesis-time. */
  readonly slotClock: { readonly genesisTimeMs: number; readonly slotMs: number; readonly slotsPerEpoch: number } | null;
}

const CUSTOM_REQUIRED = ['genesis-fork-version', 'genesis-validators-root', 'deposit-contract-address'] as const;
const CUSTOM_FLAGS = ['chain-id', ...CUSTOM_REQUIRED, 'deposit-contract-block', 'genesis-time', 'seconds-per-slot', 'slots-per-epoch'] as const;

export const NETWORK_FLAGS: readonly FlagSpec[] = [
  { name: 'network', kind: 'string', choices: KNOWN_NETWORK_NAMES, description: 'Known network of the pool\'s validators: its genesis validators root scopes slashing protection; its fork version and deposit contract are what deposits are made against. Without it (and without a custom network\'s flags) the pool is on mainnet, as the startup log says.' },
  { name: 'genesis-fork-version', kind: 'string', description: 'Custom network (with --genesis-validators-root and --deposit-contract-address, all three required): its genesis fork version, 0x + 8 hex; deposits are signed for it.' },
  { name: 'genesis-validators-root', kind: 'string', description: 'Custom network: its genesis validators root, 0x + 64 hex; slashing protection of other networks is refused.' },
  { name: 'deposit-contract-address', kind: 'string', description: 'Custom network: its deposit contract address.' },
  { name: 'chain-id', kind: 'int', min: 1, max: 2 ** 32, description: 'Custom network: its execution chain id; needed with --eth-rpc-url.' },
  { name: 'deposit-contract-block', kind: 'int', min: 0, max: 2 ** 48, description: 'Custom network: the block its deposit contract was created in; DepositEvents are looked for from there (default 0).' },
  { name: 'genesis-time', kind: 'int', min: 0, max: 2 ** 40, description: 'Custom network: its beacon chain genesis time (Unix seconds). With it, keys whose last watermarks are unknown get watermarks from the clock before reuse; without it such keys wait for an operator.' },
  { name: 'seconds-per-slot', kind: 'int', min: 1, max: 3600, description: 'Custom network, with --genesis-time: seconds per slot (default 12).' },
  { name: 'slots-per-epoch', kind: 'int', min: 1, max: 1024, description: 'Custom network, with --genesis-time: slots per epoch (default 32).' },
];

export function poolNetwork(values: FlagValues): PoolNetwork {
  const named = values['network'] as KnownNetworkName | undefined;
  const customGiven = CUSTOM_FLAGS.filter((flag) => values[flag] !== undefined);
  if (customGiven.length === 0) {
    const known = KNOWN_NETWORKS[named ?? 'mainnet'];
    const { name, chainId, genesisForkVersion, genesisValidatorsRoot, depositContractAddress, depositContractBlock, genesisTime, secondsPerSlot, slotsPerEpoch } = known;
    const slotClock = { genesisTimeMs: genesisTime * 1000, slotMs: secondsPerSlot * 1000, slotsPerEpoch };
    return { name, chainId, genesisForkVersion, genesisValidatorsRoot, depositContractAddress, depositContractBlock, slotClock };
  }
  if (named !== undefined) {
    throw new ConfigError(`--network ${named} is a known network, but --${customGiven[0]} describes a custom one: give --network alone, or a custom network's flags without it`);
  }
  const missing = CUSTOM_REQUIRED.filter((flag) => values[flag] === undefined);
  if (missing.length > 0) {
    throw new ConfigError(`a custom network needs --${CUSTOM_REQUIRED.join(', --')}; missing: --${missing.join(', --')}. Nothing is assumed from mainnet (or use --network ${KNOWN_NETWORK_NAMES.join('|')})`);
  }
  const forkVersion = values['genesis-fork-version'] as string;
  if (!/^0x[0-9a-fA-F]{8}$/.test(forkVersion)) throw new ConfigError(`--genesis-fork-version ${JSON.stringify(forkVersion.slice(0, 20))} is not 0x and 8 hex digits`);
  const root = values['genesis-validators-root'] as string;
  if (!/^0x[0-9a-fA-F]{64}$/.test(root)) throw new ConfigError(`--genesis-validators-root ${JSON.stringify(root.slice(0, 70))} is not 0x and 64 hex digits`);
  const contract = values['deposit-contract-address'] as string;
  if (!/^0x[0-9a-fA-F]{40}$/.test(contract)) throw new ConfigError(`--deposit-contract-address ${JSON.stringify(contract.slice(0, 50))} is not an address (0x and 40 hex digits)`);
  return {
    name: 'custom',
    chainId: (values['chain-id'] as number | undefined) ?? null,
    genesisForkVersion: forkVersion.toLowerCase(),
    genesisValidatorsRoot: root.toLowerCase(),
    depositContractAddress: contract,
    depositContractBlock: (values['deposit-contract-block'] as number | undefined) ?? 0,
    slotClock: customSlotClock(values),
  };
}

/** A custom network's slot clock, from --genesis-time; without it, none (keys with unknown watermarks wait for an operator). */
function customSlotClock(values: FlagValues): PoolNetwork['slotClock'] {
  const genesisTime = values['genesis-time'] as number | undefined;
  if (genesisTime === undefined) {
    if (values['seconds-per-slot'] !== undefined || values['slots-per-epoch'] !== undefined) throw new ConfigError('--seconds-per-slot and --slots-per-epoch need --genesis-time: the slot clock starts at genesis');
    return null;
  }
  return { genesisTimeMs: genesisTime * 1000, slotMs: ((values['seconds-per-slot'] as number | undefined) ?? 12) * 1000, slotsPerEpoch: (values['slots-per-epoch'] as number | undefined) ?? 32 };
}

/** The chain id an execution endpoint must serve; a custom network must have said it. */
export function requireChainId(network: PoolNetwork, why: string): number {
  if (network.chainId === null) throw new ConfigError(`${why} needs --chain-id: the custom network's execution chain id, which the endpoint is checked against`);
  return network.chainId;
}
