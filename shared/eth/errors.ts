import { KeyleaseError } from '../errors/keylease-error.js';

/** A keystore that is malformed, or that does not open with the password given. Never carries the password. */
export class KeystoreError extends KeyleaseError {
  constructor(code: 'KEYSTORE_FORMAT' | 'KEYSTORE_PASSWORD' | 'KEYSTORE_PUBKEY', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
