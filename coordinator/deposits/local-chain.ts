import { ContractFactory, JsonRpcProvider, Wallet, getAddress, parseEther } from 'ethers';
import { JsonRpcServer } from 'hardhat/internal/hardhat-network/jsonrpc/server.js';
import { createHardhatNetworkProvider } from 'hardhat/internal/hardhat-network/provider/provider.js';
import { DEPOSIT_CONTRACT_ARTIFACT } from './contract/artifact.js';
import type { NetworkSettings } from '../../shared/eth/networks.js';

/**
 * A local Ethereum chain for `keylease dev` and tests: Hardhat 2's EDR EVM running inside this process,
 * served over JSON-RPC on loopback (so coordinator replicas in other processes can reach it), with the
 * deposit contract deployed and a funding wallet that holds the ETH deposits are paid from.
 *
 * Hardhat's public entry point (`require('hardhat')`) wants a hardhat.config file and a project layout;
 * the two internal modules used here are what its `node` task builds on; hardhat is pinned to 2.28.6.
 */
const LOCAL_CHAIN_ID = 31337;
/** A devnet-style fork version of our own, so deposits signed for the local chain are valid nowhere else. */
const LOCAL_GENESIS_FORK_VERSION = '0x10007a69';
/** The local chain has no beacon chain; a root of its own scopes the demo pool's slashing protection to it. */
const LOCAL_GENESIS_VALIDATORS_ROOT = '0x' + '7a69'.repeat(16);
/** Enough for 3,000 deposits. */
const FUNDING_ETH = '100000';

export interface LocalChainOptions {
  /** Loopback by default: the chain's accounts are unlocked to anyone who can reach it. */
  readonly host?: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** 0x-prefixed secp256k1 key of the funding wallet; a fresh random one by default. */
  readonly fundingPrivKey?: string;
  /** Key of the contract's deployer; the same key gives the same contract address on every start. */
  readonly deployerPrivKey?: string;
}

export interface LocalChain {
  readonly rpcUrl: string;
  readonly network: Pick<NetworkSettings, 'name' | 'chainId' | 'genesisForkVersion' | 'genesisValidatorsRoot' | 'depositContractAddress' | 'depositContractBlock'>;
  /** Secret: hand it to the deposit sender only. */
  readonly fundingPrivKey: string;
  readonly fundingAddress: string;
  close(): Promise<void>;
}

export async function startLocalChain(options: LocalChainOptions = {}): Promise<LocalChain> {
  const funding = options.fundingPrivKey !== undefined ? new Wallet(options.fundingPrivKey) : Wallet.createRandom();
  // A separate, throw-away deployer keeps the funding wallet's nonces for deposits alone.
  const deployer = options.deployerPrivKey !== undefined ? new Wallet(options.deployerPrivKey) : Wallet.createRandom();
  const edr = await createHardhatNetworkProvider(
    {
      hardfork: 'osaka',
      chainId: LOCAL_CHAIN_ID,
      networkId: LOCAL_CHAIN_ID,
      blockGasLimit: 60_000_000,
      minGasPrice: 0n,
      automine: true,
      intervalMining: 0,
      mempoolOrder: 'priority',
      chains: new Map(),
      genesisAccounts: [
        { privateKey: funding.privateKey, balance: parseEther(FUNDING_ETH).toString() },
        { privateKey: deployer.privateKey, balance: parseEther('10').toString() },
      ],
      allowUnlimitedContractSize: false,
      throwOnTransactionFailures: true,
      throwOnCallFailures: true,
      allowBlocksWithSameTimestamp: false,
      enableTransientStorage: false,
      enableRip7212: false,
    },
    { enabled: false },
  );
  const server = new JsonRpcServer({ hostname: options.host ?? '127.0.0.1', port: options.port ?? 0, provider: edr });
  const { address, port } = await server.listen();
  const rpcUrl = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;

  const provider = new JsonRpcProvider(rpcUrl, LOCAL_CHAIN_ID, { staticNetwork: true, batchMaxCount: 1 });
  try {
    const factory = new ContractFactory(DEPOSIT_CONTRACT_ARTIFACT.abi, DEPOSIT_CONTRACT_ARTIFACT.bytecode, deployer.connect(provider));
    const contract = await factory.deploy();
    await contract.waitForDeployment();
    return {
      rpcUrl,
      network: {
        name: 'local',
        chainId: LOCAL_CHAIN_ID,
        genesisForkVersion: LOCAL_GENESIS_FORK_VERSION,
        genesisValidatorsRoot: LOCAL_GENESIS_VALIDATORS_ROOT,
        depositContractAddress: getAddress(await contract.getAddress()),
        depositContractBlock: 0,
      },
      fundingPrivKey: funding.privateKey,
      fundingAddress: funding.address,
      close: () => server.close(),
    };
  } catch (error) {
    await server.close();
    throw error;
  } finally {
    provider.destroy();
  }
}
