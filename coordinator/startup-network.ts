import { formatEther, getAddress } from 'ethers';
import type { CoordinatorConfig } from './config.js';
import type { DepositSender } from './deposits/deposit-sender.js';
import type { LogFields } from '../shared/log/logger.js';

/**
 * What the pool will sign and pay for, said once at startup so an operator sees the chain, fork, contract
 * and withdrawal address before the first deposit rather than after it.
 */
export async function describeNetwork(config: CoordinatorConfig, sender: DepositSender | null): Promise<LogFields> {
  const { network } = config;
  const credentials = config.deposits?.withdrawalCredentials;
  return {
    network: network.name,
    chainId: network.chainId,
    genesisForkVersion: network.genesisForkVersion,
    genesisValidatorsRoot: network.genesisValidatorsRoot,
    depositContract: network.depositContractAddress,
    depositMode: config.poolSettings.depositMode,
    ...(credentials
      ? {
          withdrawalCredentialsType: `0x0${credentials[0]!.toString(16)}`,
          withdrawalAddress: getAddress('0x' + Buffer.from(credentials.subarray(12)).toString('hex')),
        }
      : {}),
    ...(sender ? { fundingAddress: sender.fundingAddress, fundingBalanceEth: formatEther(await sender.fundingBalanceWei()) } : {}),
    chainLookup: config.chain ? [config.chain.rpcUrl ? 'deposit contract events' : null, config.chain.beaconUrl ? 'beacon node' : null].filter(Boolean).join(' + ') : 'none',
  };
}
