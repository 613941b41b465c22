import { getAddress } from 'ethers';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KNOWN_NETWORKS } from '../../shared/eth/networks.js';

/*
 * The network constants deposits are made against, as published: DEPOSIT_CHAIN_ID, GENESIS_FORK_VERSION
 * and DEPOSIT_CONTRACT_ADDRESS from each network's config.yaml (github.com/eth-clients/{mainnet,hoodi,
 * holesky,sepolia}, metadata/config.yaml), genesis validators roots from ethstaker-deposit-cli's
 * settings.py (holesky, dropped there, from ethereum/staking-deposit-cli 2.8.0's settings.py); the deposit
 * contracts' creation blocks as execution clients publish them (reth's chainspec: mainnet 11052984,
 * sepolia 1273020; hoodi and holesky have the contract in their genesis state).
 */
const PUBLISHED = {
  mainnet: { chainId: 1, genesisForkVersion: '0x00000000', genesisValidatorsRoot: '0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95', depositContractAddress: '0x00000000219ab540356cBB839Cbe05303d7705Fa', depositContractBlock: 11052984 },
  hoodi: { chainId: 560048, genesisForkVersion: '0x10000910', genesisValidatorsRoot: '0x212f13fc4df078b6cb7db228f1c8307566dcecf900867401a92023d7ba99cb5f', depositContractAddress: '0x00000000219ab540356cBB839Cbe05303d7705Fa', depositContractBlock: 0 },
  holesky: { chainId: 17000, genesisForkVersion: '0x01017000', genesisValidatorsRoot: '0x9143aa7c615a7f7115e2b6aac319c03529df8242ae705fba9df39b79c59fa8b1', depositContractAddress: '0x4242424242424242424242424242424242424242', depositContractBlock: 0 },
  sepolia: { chainId: 11155111, genesisForkVersion: '0x90000069', genesisValidatorsRoot: '0xd8ea171f3c94aea21ebc42a1ed61052acf3f9209c00e4efbaaddac09ed9b8078', depositContractAddress: '0x7f02C3E3c98b133055B8B348B2Ac625669Ed295D', depositContractBlock: 1273020 },
} as const;

test('every known network carries the published deposit constants', () => {
  assert.equal(Object.keys(KNOWN_NETWORKS).sort(), Object.keys(PUBLISHED).sort());
  for (const [name, published] of Object.entries(PUBLISHED)) {
    const settings = KNOWN_NETWORKS[name as keyof typeof PUBLISHED];
    const { chainId, genesisForkVersion, genesisValidatorsRoot, depositContractAddress, depositContractBlock } = settings;
    assert.equal({ chainId, genesisForkVersion, genesisValidatorsRoot, depositContractAddress, depositContractBlock }, published, name);
    assert.is(settings.name, name);
    assert.is(settings.epochMs, 32 * 12_000, `${name}: 32 slots of 12 s`);
  }
});

test('deposit contract addresses are written with a valid EIP-55 checksum', () => {
  for (const settings of Object.values(KNOWN_NETWORKS)) assert.is(getAddress(settings.depositContractAddress), settings.depositContractAddress, settings.name);
});

test.run();
