/**
 * Public constants of the Ethereum networks a pool may serve. The genesis validators root scopes
 * slashing protection (EIP-3076) and signatures; the genesis fork version and deposit contract are what
 * deposits are made against.
 */
export interface NetworkSettings {
  readonly name: string;
  readonly chainId: number;
  readonly genesisForkVersion: string;
  readonly genesisValidatorsRoot: string;
  readonly depositContractAddress: string;
  /** Block the deposit contract was created in: DepositEvents are looked for from here on. */
  readonly depositContractBlock: number;
  /** Seconds per slot × slots per epoch: the unit of cooling and fence margins. */
  readonly epochMs: number;
  /** The beacon chain's genesis (Unix seconds), slot length and epoch length: the network's slot clock. */
  readonly genesisTime: number;
  readonly secondsPerSlot: number;
  readonly slotsPerEpoch: number;
}

const EPOCH_MS = 32 * 12 * 1000;

export const KNOWN_NETWORKS: Readonly<Record<'mainnet' | 'hoodi' | 'holesky' | 'sepolia', NetworkSettings>> = {
  mainnet: {
    name: 'mainnet',
    chainId: 1,
    genesisForkVersion: '0x00000000',
    genesisValidatorsRoot: '0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95',
    depositContractAddress: '0x00000000219ab540356cBB839Cbe05303d7705Fa',
    depositContractBlock: 11_052_984,
    epochMs: EPOCH_MS,
    genesisTime: 1606824023,
    secondsPerSlot: 12,
    slotsPerEpoch: 32,
  },
  hoodi: {
    name: 'hoodi',
    chainId: 560048,
    genesisForkVersion: '0x10000910',
    genesisValidatorsRoot: '0x212f13fc4df078b6cb7db228f1c8307566dcecf900867401a92023d7ba99cb5f',
    depositContractAddress: '0x00000000219ab540356cBB839Cbe05303d7705Fa',
    // In the genesis state, as on holesky.
    depositContractBlock: 0,
    epochMs: EPOCH_MS,
    genesisTime: 1742213400,
    secondsPerSlot: 12,
    slotsPerEpoch: 32,
  },
  holesky: {
    name: 'holesky',
    chainId: 17000,
    genesisForkVersion: '0x01017000',
    genesisValidatorsRoot: '0x9143aa7c615a7f7115e2b6aac319c03529df8242ae705fba9df39b79c59fa8b1',
    depositContractAddress: '0x4242424242424242424242424242424242424242',
    depositContractBlock: 0,
    epochMs: EPOCH_MS,
    genesisTime: 1695902400,
    secondsPerSlot: 12,
    slotsPerEpoch: 32,
  },
  sepolia: {
    name: 'sepolia',
    chainId: 11155111,
    genesisForkVersion: '0x90000069',
    genesisValidatorsRoot: '0xd8ea171f3c94aea21ebc42a1ed61052acf3f9209c00e4efbaaddac09ed9b8078',
    depositContractAddress: '0x7f02C3E3c98b133055B8B348B2Ac625669Ed295D',
    depositContractBlock: 1_273_020,
    epochMs: EPOCH_MS,
    genesisTime: 1655733600,
    secondsPerSlot: 12,
    slotsPerEpoch: 32,
  },
};

export type KnownNetworkName = keyof typeof KNOWN_NETWORKS;
export const KNOWN_NETWORK_NAMES = Object.keys(KNOWN_NETWORKS) as KnownNetworkName[];
