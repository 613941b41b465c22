import { DepositError } from './errors.js';

/** Bytes of a hex string with or without 0x, of exactly `length` bytes; `what` names it in the error. */
export function hexToBytes(hex: string, length: number, what: string): Uint8Array {
  const digits = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex;
  if (digits.length !== length * 2 || !/^[0-9a-fA-F]*$/.test(digits)) {
    throw new DepositError('DEPOSIT_INPUT', `${what} ${JSON.stringify(hex)} is not ${length} bytes of hex`);
  }
  return new Uint8Array(Buffer.from(digits, 'hex'));
}

/** Lower-case hex without 0x, as deposit_data JSON writes bytes. */
export function bareHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function prefixedHex(bytes: Uint8Array): string {
  return '0x' + bareHex(bytes);
}
