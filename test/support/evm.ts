import { Contract, JsonRpcProvider, Wallet } from 'ethers';
import { DEPOSIT_CONTRACT_ARTIFACT } from '../../coordinator/deposits/contract/artifact.js';
import { DepositSender } from '../../coordinator/deposits/deposit-sender.js';
import type { DepositNetwork } from '../../coordinator/deposits/deposit-network.js';
import { startLocalChain, type LocalChain } from '../../coordinator/deposits/local-chain.js';
import { deriveSigningKey, mnemonicToSeed } from '../../coordinator/keys/derive.js';
import { FULL_DEPOSIT_GWEI, executionWithdrawalCredentials, hexToBytes, signDeposit, type SignedDeposit } from '../../shared/eth/deposit/index.js';

/** A local EVM with the deposit contract, for tests that must see what really reached the chain. */
export interface TestChain {
  readonly chain: LocalChain;
  readonly provider: JsonRpcProvider;
  readonly contract: Contract;
  /** A sender paying from the chain's funding wallet unless `fundingPrivKey` says otherwise; closed with the chain. */
  sender(overrides?: { fundingPrivKey?: string; network?: DepositNetwork; maxDepositsPerDay?: number }): DepositSender;
  activity(): Promise<ChainActivity>;
  close(): Promise<void>;
}

/** What a refused operation must leave unchanged. */
export interface ChainActivity {
  readonly blockNumber: number;
  readonly fundingNonce: number;
  readonly depositCount: number;
  readonly depositRoot: string;
}

export async function startTestChain(): Promise<TestChain> {
  const chain = await startLocalChain();
  const provider = new JsonRpcProvider(chain.rpcUrl, chain.network.chainId, { staticNetwork: true, cacheTimeout: -1, batchMaxCount: 1 });
  const contract = new Contract(chain.network.depositContractAddress, DEPOSIT_CONTRACT_ARTIFACT.abi, provider);
  const senders: DepositSender[] = [];
  return {
    chain,
    provider,
    contract,
    sender: (overrides = {}) => {
      const sender = new DepositSender({
        rpcUrl: chain.rpcUrl,
        fundingPrivKey: overrides.fundingPrivKey ?? chain.fundingPrivKey,
        network: overrides.network ?? chain.network,
        maxDepositsPerDay: overrides.maxDepositsPerDay ?? 1_000_000,
      });
      senders.push(sender);
      return sender;
    },
    activity: async () => ({
      blockNumber: await provider.getBlockNumber(),
      fundingNonce: await provider.getTransactionCount(chain.fundingAddress, 'pending'),
      depositCount: Number(Buffer.from((await contract.getFunction('get_deposit_count')()).slice(2), 'hex').readBigUInt64LE(0)),
      depositRoot: await contract.getFunction('get_deposit_root')(),
    }),
    close: async () => {
      for (const sender of senders) sender.close();
      provider.destroy();
      await chain.close();
    },
  };
}

/** The coordinator flags that make the pool deposit on `chain` through `rpcUrl`, paying from `fundingKeyFile`. */
export function coordinatorDepositFlags(chain: TestChain, rpcUrl: string, fundingKeyFile: string): string[] {
  const { network } = chain.chain;
  return [
    '--deposit-mode', 'submit', '--withdrawal-address', TEST_WITHDRAWAL_ADDRESS, '--eth-rpc-url', rpcUrl, '--funding-key-file', fundingKeyFile,
    '--chain-id', String(network.chainId), '--genesis-fork-version', network.genesisForkVersion, '--genesis-validators-root', network.genesisValidatorsRoot,
    '--deposit-contract-address', network.depositContractAddress, '--deposit-confirmations', '1',
  ];
}

/** Every DepositEvent the contract emitted, counted by pubkey. */
export async function depositEventsByKey(chain: TestChain): Promise<Map<string, number>> {
  const logs = await chain.contract.queryFilter(chain.contract.filters['DepositEvent']!(), 0);
  const byKey = new Map<string, number>();
  for (const log of logs) {
    const pubKey = String((log as unknown as { args: unknown[] }).args[0]).toLowerCase();
    byKey.set(pubKey, (byKey.get(pubKey) ?? 0) + 1);
  }
  return byKey;
}

export const TEST_MNEMONIC = 'test test test test test test test test test test test waste';
export const TEST_WITHDRAWAL_ADDRESS = '0x0f51bb10119727a7e5eA3538074fb341F56B09Ad';
const testSeed = mnemonicToSeed(TEST_MNEMONIC);

/** The deposit of validator `index` of the test mnemonic, signed for `genesisForkVersion`. */
export function testDeposit(index: number, genesisForkVersion: string): SignedDeposit {
  const key = deriveSigningKey(testSeed, index);
  try {
    return signDeposit({
      privKey: key.privKey,
      withdrawalCredentials: executionWithdrawalCredentials(TEST_WITHDRAWAL_ADDRESS, 0x01),
      amountGwei: FULL_DEPOSIT_GWEI,
      genesisForkVersion: hexToBytes(genesisForkVersion, 4, 'genesis fork version'),
    });
  } finally {
    key.privKey.fill(0);
  }
}

export function randomUnfundedKey(): string {
  return Wallet.createRandom().privateKey;
}
