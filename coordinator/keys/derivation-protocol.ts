import type { DerivedPoolKey } from '../core/index.js';

/** Messages between the coordinator and its derivation worker thread. */
export interface DerivationRequest {
  readonly requestId: number;
  readonly seed: Uint8Array;
  readonly kek: Uint8Array;
  readonly fromIndex: number;
  readonly count: number;
}

export type DerivationReply =
  | { readonly requestId: number; readonly type: 'key'; readonly key: DerivedPoolKey }
  | { readonly requestId: number; readonly type: 'done' }
  | { readonly requestId: number; readonly type: 'error'; readonly message: string };
