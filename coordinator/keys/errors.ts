import { KeyleaseError } from '../../shared/errors/keylease-error.js';

export type KeysErrorCode =
  | 'KEK_FILE'
  | 'KEK_SIZE'
  | 'KEK_MISMATCH'
  | 'MNEMONIC_FILE'
  | 'MNEMONIC_INVALID'
  | 'KEYSTORE_SEALED'
  | 'IMPORT_DIR'
  | 'IMPORT_PASSWORDS'
  | 'DERIVATION';

/** Problems with the coordinator's secrets. Messages name the file and the fix, never the secret. */
export class KeysError extends KeyleaseError {
  constructor(code: KeysErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
