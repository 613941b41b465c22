import { KeyleaseError } from '../errors/keylease-error.js';

/** TLS files that cannot be used as they are: which file, and what to do. Never their contents. */
export class TlsMaterialError extends KeyleaseError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TLS_MATERIAL', message, options);
  }
}
