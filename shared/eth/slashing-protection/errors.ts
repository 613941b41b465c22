import { KeyleaseError } from '../../errors/keylease-error.js';

export type SlashingProtectionErrorCode =
  /** Not an EIP-3076 v5 interchange: the message names the field. */
  | 'INTERCHANGE_FORMAT'
  /** An interchange for another chain (genesis_validators_root differs). */
  | 'INTERCHANGE_GENESIS'
  /** An interchange with data for a key it must not speak for. */
  | 'INTERCHANGE_FOREIGN_KEY';

/** A slashing-protection interchange that cannot be accepted. Interchanges hold no secrets, so messages may quote them. */
export class SlashingProtectionError extends KeyleaseError {
  constructor(code: SlashingProtectionErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
