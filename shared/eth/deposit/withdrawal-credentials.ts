import { getAddress } from 'ethers';
import { DepositError } from './errors.js';
import { hexToBytes } from './hex.js';

/** 0x01: withdrawals to an execution address; 0x02: the same, compounding (EIP-7251). */
export type ExecutionWithdrawalPrefix = 0x01 | 0x02;

/**
 * Checks that `address` is an execution address written in its EIP-55 checksummed form and returns it.
 * Unchecksummed (all lower or upper case) addresses are refused as staking-deposit-cli refuses them:
 * the checksum is what catches a mistyped character, and the validator's whole balance goes there. The
 * error never suggests the checksummed spelling, since copying it would defeat that check.
 */
export function checksummedWithdrawalAddress(address: string): string {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) {
    throw new DepositError('DEPOSIT_INPUT', `withdrawal address ${JSON.stringify(address)} is not an execution address (0x followed by 40 hex digits)`);
  }
  let checksummed: string;
  try {
    checksummed = getAddress(address);
  } catch {
    throw new DepositError('DEPOSIT_INPUT', `withdrawal address ${address} fails its EIP-55 checksum: a character is mistyped; copy the address again from the wallet that controls it`);
  }
  if (checksummed !== address) {
    throw new DepositError('DEPOSIT_INPUT', `withdrawal address ${address} is not EIP-55 checksummed (mixed case); copy it, with its capitals, from the wallet that controls it`);
  }
  if (/^0x0{40}$/.test(address)) {
    throw new DepositError('DEPOSIT_INPUT', 'withdrawal address is the zero address: no one controls it, so every withdrawal would be lost; give the address of a wallet you control');
  }
  return checksummed;
}

/** prefix ‖ 11 zero bytes ‖ the 20-byte address (consensus-specs validator.md). */
export function executionWithdrawalCredentials(address: string, prefix: ExecutionWithdrawalPrefix): Uint8Array {
  const credentials = new Uint8Array(32);
  credentials[0] = prefix;
  credentials.set(hexToBytes(checksummedWithdrawalAddress(address), 20, 'withdrawal address'), 12);
  return credentials;
}
