import { Interface } from 'ethers';
import { DEPOSIT_CONTRACT_ARTIFACT } from './contract/artifact.js';

/**
 * The deposit contract's interface (deposit, get_deposit_root, get_deposit_count, DepositEvent): the same
 * for our local contract and the official one on public networks.
 */
export const DEPOSIT_CONTRACT_INTERFACE = new Interface(DEPOSIT_CONTRACT_ARTIFACT.abi);
export const DEPOSIT_EVENT_TOPIC = DEPOSIT_CONTRACT_INTERFACE.getEvent('DepositEvent')!.topicHash;
