/**
 * A typed refusal: the command was valid to propose but the state machine said no, and nothing changed.
 * Codes are stable; the API layer maps them to gRPC/HTTP statuses.
 */
export type RefusalCode =
  | 'INVALID_ARGUMENT'
  | 'UNKNOWN_POOL'
  | 'LEASE_CONFLICT'
  | 'PREVIOUS_POD_HOLDS_LEASE'
  | 'POOL_EXHAUSTED'
  | 'NEEDS_KEYS'
  | 'LEASE_NOT_FOUND'
  | 'DUPLICATE_KEY'
  | 'DERIVATION_INDEX_MISMATCH'
  | 'POOL_FULL'
  | 'INVALID_INTERCHANGE'
  | 'KEY_NOT_FOUND'
  | 'KEY_IN_USE'
  | 'AWAITING_DEPOSITS'
  | 'DEPOSIT_STATE';

export interface Refusal {
  readonly code: RefusalCode;
  readonly message: string;
  /** For NEEDS_KEYS: how many keys must be derived, from which index. */
  readonly missingKeys?: number;
  readonly nextDerivationIndex?: number;
}

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly refusal: Refusal };

export function refuse<T = never>(code: RefusalCode, message: string, extra?: Omit<Refusal, 'code' | 'message'>): Result<T> {
  return { ok: false, refusal: { code, message, ...extra } };
}

export function accept<T>(value: T): Result<T> {
  return { ok: true, value };
}
