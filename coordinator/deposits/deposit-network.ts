import type { NetworkSettings } from '../../shared/eth/networks.js';

/** What deposits depend on in a network's settings: the chain to send to, the contract, the fork signed for. */
export type DepositNetwork = Pick<NetworkSettings, 'name' | 'chainId' | 'genesisForkVersion' | 'depositContractAddress'>;
