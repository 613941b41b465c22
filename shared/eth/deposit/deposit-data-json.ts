import type { SignedDeposit } from './deposit-data.js';
import { bareHex } from './hex.js';

/**
 * The deposit_cli_version written into deposit_data files: the ethstaker-deposit-cli release whose
 * output these files reproduce byte for byte (fields, order, formatting). The Launchpad no longer
 * checks this value (staking-launchpad#714), so it only says which format the file follows.
 */
export const DEPOSIT_CLI_VERSION = '1.3.0';

/** One entry of staking-deposit-cli's deposit_data-<timestamp>.json, fields in its order. */
export interface DepositDataJsonEntry {
  readonly pubkey: string;
  readonly withdrawal_credentials: string;
  readonly amount: number;
  readonly signature: string;
  readonly deposit_message_root: string;
  readonly deposit_data_root: string;
  readonly fork_version: string;
  readonly network_name: string;
  readonly deposit_cli_version: string;
}

export function depositDataJsonEntry(deposit: SignedDeposit, networkName: string): DepositDataJsonEntry {
  return {
    pubkey: bareHex(deposit.pubKey),
    withdrawal_credentials: bareHex(deposit.withdrawalCredentials),
    amount: deposit.amountGwei,
    signature: bareHex(deposit.signature),
    deposit_message_root: bareHex(deposit.depositMessageRoot),
    deposit_data_root: bareHex(deposit.depositDataRoot),
    fork_version: bareHex(deposit.genesisForkVersion),
    network_name: networkName,
    deposit_cli_version: DEPOSIT_CLI_VERSION,
  };
}

/**
 * The file's text exactly as staking-deposit-cli writes it: Python's json.dump defaults (one line,
 * ", " and ": " separators, non-ASCII escaped, no trailing newline). Launchpad-style tools read any
 * JSON, but byte equality lets an operator diff our file against the reference tool's.
 */
export function depositDataJson(deposits: readonly SignedDeposit[], networkName: string): string {
  const entries = deposits.map((deposit) => depositDataJsonEntry(deposit, networkName));
  return `[${entries.map(pythonJsonObject).join(', ')}]`;
}

function pythonJsonObject(entry: DepositDataJsonEntry): string {
  const fields = Object.entries(entry).map(([name, value]) => `${pythonJsonString(name)}: ${typeof value === 'number' ? String(value) : pythonJsonString(value)}`);
  return `{${fields.join(', ')}}`;
}

function pythonJsonString(text: string): string {
  return JSON.stringify(text).replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}
