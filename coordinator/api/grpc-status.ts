import { status } from '@grpc/grpc-js';
import type { RefusalCode } from '../core/index.js';

/** How each refusal reaches an agent. ABORTED means "retry"; UNAVAILABLE means "try another replica". */
export const GRPC_STATUS_OF_REFUSAL: Record<RefusalCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  UNKNOWN_POOL: status.NOT_FOUND,
  LEASE_CONFLICT: status.FAILED_PRECONDITION,
  PREVIOUS_POD_HOLDS_LEASE: status.FAILED_PRECONDITION,
  POOL_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  POOL_FULL: status.RESOURCE_EXHAUSTED,
  NEEDS_KEYS: status.ABORTED,
  DERIVATION_INDEX_MISMATCH: status.ABORTED,
  LEASE_NOT_FOUND: status.NOT_FOUND,
  DUPLICATE_KEY: status.ALREADY_EXISTS,
  INVALID_INTERCHANGE: status.INVALID_ARGUMENT,
  KEY_NOT_FOUND: status.NOT_FOUND,
  KEY_IN_USE: status.FAILED_PRECONDITION,
  AWAITING_DEPOSITS: status.RESOURCE_EXHAUSTED,
  DEPOSIT_STATE: status.FAILED_PRECONDITION,
};
