import { ByteVectorType, ContainerType, UintNumberType } from '@chainsafe/ssz';

/** The consensus-specs (phase0 beacon-chain.md) containers a deposit is built from. */
const Bytes4 = new ByteVectorType(4);
const Bytes32 = new ByteVectorType(32);
const Bytes48 = new ByteVectorType(48);
const Bytes96 = new ByteVectorType(96);
/** Gwei amounts stay below 2^53 (the whole ETH supply is ~2^57 gwei, a deposit at most 2048 ETH). */
const Gwei = new UintNumberType(8);

export const DepositMessage = new ContainerType({ pubkey: Bytes48, withdrawalCredentials: Bytes32, amount: Gwei }, { typeName: 'DepositMessage' });

export const DepositData = new ContainerType(
  { pubkey: Bytes48, withdrawalCredentials: Bytes32, amount: Gwei, signature: Bytes96 },
  { typeName: 'DepositData' },
);

export const ForkData = new ContainerType({ currentVersion: Bytes4, genesisValidatorsRoot: Bytes32 }, { typeName: 'ForkData' });

export const SigningData = new ContainerType({ objectRoot: Bytes32, domain: Bytes32 }, { typeName: 'SigningData' });
