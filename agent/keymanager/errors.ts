import type { Interchange } from '../../shared/eth/slashing-protection/index.js';
import { AgentError } from '../errors.js';

export type KeymanagerErrorCode =
  /** Nothing answers at the Keymanager URL (refused, reset, DNS). */
  | 'KEYMANAGER_UNREACHABLE'
  /** No answer within the deadline. */
  | 'KEYMANAGER_TIMEOUT'
  /** An https:// API whose certificate is not trusted, or a --keymanager-ca-file that cannot be read. */
  | 'KEYMANAGER_TLS'
  /** 401 or 403: the bearer token is missing or wrong. */
  | 'KEYMANAGER_AUTH'
  /** Any other non-2xx answer. */
  | 'KEYMANAGER_HTTP'
  /** A 2xx answer whose body does not follow the Keymanager API schema. */
  | 'KEYMANAGER_RESPONSE'
  /** A request this client refuses to send (it would be malformed). */
  | 'KEYMANAGER_REQUEST'
  /** DELETE did not take every key out of the validator client. */
  | 'KEYMANAGER_FENCE_FAILED';

/**
 * A failed call to a validator client's Keymanager API. `endpoint` is "METHOD /path"; `httpStatus` is
 * null when no HTTP answer came. Messages never carry passwords, keystores or the token.
 */
export class KeymanagerError extends AgentError {
  readonly endpoint: string;
  readonly httpStatus: number | null;

  constructor(code: KeymanagerErrorCode, endpoint: string, httpStatus: number | null, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.endpoint = endpoint;
    this.httpStatus = httpStatus;
  }
}

/**
 * The validator client may still sign with `stillListed` (it lists them after DELETE) or `notDeleted`
 * (DELETE answered `error` for them). Whoever holds these keys must not give them up until the client is
 * stopped, or one key could sign in two places.
 */
export class FenceFailedError extends KeymanagerError {
  readonly stillListed: readonly string[];
  readonly notDeleted: readonly string[];
  /**
   * The slashing protection this DELETE answered with, if readable: a client that answers `deleted` and
   * keeps signing (Lodestar 1.5.1's first DELETE) still exports history that must not be dropped.
   */
  readonly slashingProtection: Interchange | null;

  constructor(stillListed: readonly string[], notDeleted: readonly string[], detail: string, slashingProtection: Interchange | null = null, path = '/eth/v1/keystores') {
    super('KEYMANAGER_FENCE_FAILED', `DELETE ${path}`, null, `fence failed: ${detail}. The validator client may still sign with these keys: the agent keeps trying, and they stay quarantined until removal is proven or the pod is gone`);
    this.stillListed = stillListed;
    this.notDeleted = notDeleted;
    this.slashingProtection = slashingProtection;
  }
}
