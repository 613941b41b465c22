import { KeyleaseError } from '../../errors/keylease-error.js';

export type DepositErrorCode =
  /** A malformed withdrawal address, fork version or amount given by the operator. */
  | 'DEPOSIT_INPUT'
  /** Deposit data signed for another network (fork version) than the one being deposited to. */
  | 'DEPOSIT_WRONG_FORK'
  | 'DEPOSIT_BAD_SIGNATURE'
  | 'DEPOSIT_ROOT_MISMATCH'
  /** The RPC endpoint serves another chain than the network expects, or has no deposit contract. */
  | 'DEPOSIT_WRONG_CHAIN'
  | 'DEPOSIT_INSUFFICIENT_FUNDS'
  | 'DEPOSIT_DAILY_CAP'
  /** The nonce of a signed deposit was spent by another transaction: it can never be mined. */
  | 'DEPOSIT_NONCE_CONFLICT'
  | 'DEPOSIT_REVERTED'
  | 'DEPOSIT_RPC';

/** A deposit that was refused or failed. Messages name public data only (addresses, pubkeys, amounts). */
export class DepositError extends KeyleaseError {
  declare readonly code: DepositErrorCode;

  constructor(code: DepositErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
