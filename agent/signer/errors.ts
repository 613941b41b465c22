import { KeyleaseError } from '../../shared/errors/keylease-error.js';

export type SignerErrorCode =
  /** A malformed sign request or an unknown message type; the message names the field. HTTP 400. */
  | 'SIGNER_REQUEST'
  /** The request's signingRoot differs from the root computed from its message. HTTP 400. */
  | 'SIGNER_ROOT_MISMATCH'
  /** The agent holds no key with that public key. HTTP 404. */
  | 'SIGNER_UNKNOWN_KEY'
  /** Signing would break EIP-3076 protection (minimal strategy). HTTP 412, as Web3Signer answers. */
  | 'SIGNER_SLASHABLE'
  /** The fence deadline has passed or was never set: the agent signs nothing. HTTP 503. */
  | 'SIGNER_FENCED'
  /** A key handed to install() is unusable (bad secret, wrong public key, foreign protection). */
  | 'SIGNER_KEY'
  /** The state directory cannot be read or written; nothing is signed without it. */
  | 'SIGNER_STATE';

/** A refused sign request or an unusable key or state. Messages never carry key material. */
export class SignerError extends KeyleaseError {
  declare readonly code: SignerErrorCode;

  constructor(code: SignerErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
