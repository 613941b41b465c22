import type { KeyProtection } from './protection.js';
import type { ForeignMark } from './foreign.js';

/**
 * The allocation state machine's data. Everything here is plain data so that a snapshot is a faithful
 * copy and a replay of the same commands gives the same state on every replica.
 */
export type KeyState = 'unallocated' | 'allocated' | 'cooling' | 'quarantined';
export const KEY_STATES: readonly KeyState[] = ['unallocated', 'allocated', 'cooling', 'quarantined'];

/**
 * How the holder's validator client got the keys, as the agent declares it when it claims. It decides
 * what an end without proof means (DESIGN.md, S6/S7): in `signer` mode the keys never left the agent,
 * which signs nothing at or after its fence deadline, so an expired lease proves signing stopped; in
 * `keymanager` and `files` mode the client holds the keys itself, and only the agent's proof (or the
 * pod being gone) does. `unknown` (an agent that did not say) counts as unproven, like files.
 */
export type SigningMode = 'signer' | 'keymanager' | 'files' | 'unknown';
export const SIGNING_MODES: readonly SigningMode[] = ['signer', 'keymanager', 'files', 'unknown'];

/** Why a key waits in quarantine: its last holder's end left no proof that it stopped signing. */
export type QuarantineCause = 'expired' | 'unproven_release' | 'files_mode';

/** A key's quarantine: who held it last, since when, and whether Kubernetes has shown that pod gone. */
export interface Quarantine {
  readonly podName: string;
  readonly podUid: string | null;
  readonly leaseId: string;
  readonly sinceMs: number;
  readonly cause: QuarantineCause;
}

/** A validator key in a pool. Its secret is only ever present sealed under the key-encryption key. */
export interface PoolKey {
  readonly pubKey: string; // 0x + 96 lowercase hex
  readonly pool: string;
  /** EIP-2334 index for keys derived from the pool's mnemonic; null for imported keys. */
  readonly derivationIndex: number | null;
  readonly path: string;
  /** EIP-2335 keystore and its password, sealed with AES-256-GCM under the KEK; held as bytes (sealed-secret.ts). */
  readonly sealedSecret: string;
  readonly addedAtMs: number;
  state: KeyState;
  holderPod: string | null;
  leaseId: string | null;
  /** Set while cooling: the key may be handed out again at or after this wall-clock time. */
  coolingUntilMs: number | null;
  /** Set while quarantined: the holder that may still be signing with it. */
  quarantine: Quarantine | null;
  /**
   * True after an end that left the key's final watermarks unknown (an expiry, an unproven release):
   * the next claim raises them to the network's current slot and epoch first (S8).
   */
  clockWatermarksDue: boolean;
  /** The latest slashing protection received for the key; handed out with it on the next claim. */
  protection: KeyProtection | null;
  /** For a key whose 32 ETH this pool deposits: where that stands. Null: nothing to deposit (imported, or none). */
  deposit: DepositState | null;
  /** Set when the chain showed the key deposited before this pool recorded it: not handed out until an operator clears it. */
  foreign?: ForeignMark | null;
}

export interface DepositState {
  readonly status: 'awaiting' | 'signed' | 'confirmed';
  readonly txHash: string | null;
  /** The signed transaction, committed before it is broadcast: a new leader re-broadcasts exactly this. */
  readonly rawTx: string | null;
  readonly nonce: number | null;
  readonly signedAtMs: number | null;
  readonly confirmedAtMs: number | null;
  readonly blockNumber: number | null;
  /** The pod whose claim derived the key: it is offered the key first once the deposit is confirmed. */
  readonly reservedFor?: string | null;
}

export interface Lease {
  readonly leaseId: string;
  /** The holder: a pod name, or `namespace/podName` when pods prove who they are (Kubernetes identity). */
  readonly podName: string;
  /**
   * The uid of the pod that claimed, when known. A pod recreated under the same name (a StatefulSet pod
   * after its node was lost) has another uid, and its predecessor's containers may still be signing: it
   * gets nothing of this lease, and claims only once the lease has ended.
   */
  readonly podUid: string | null;
  readonly pool: string;
  readonly pubKeys: readonly string[];
  readonly ttlMs: number;
  readonly grantedAtMs: number;
  /** How the pod's client signs with these keys; see SigningMode. */
  readonly signingMode: SigningMode;
}

/** Who a request acts for: the holder's name (see Lease.podName) and, once verified, the pod's uid. */
export interface PodRef {
  readonly podName: string;
  readonly podUid: string | null;
}

export interface PoolSettings {
  /** Derive new keys from the pool's mnemonic when too few are free. */
  readonly derive: boolean;
  /** Upper bound on keys in the pool, derived and imported together. */
  readonly maxKeys: number;
  /** Upper bound on keys in a single claim. */
  readonly maxKeysPerClaim: number;
  /** How long keys of an expired (not released) lease wait before reuse. */
  readonly coolingMs: number;
  readonly leaseTtlMs: number;
  /** The network's genesis validators root (0x + 64 hex): slashing protection of another network is refused. */
  readonly genesisValidatorsRoot: string;
  /** How long ended assignments stay in the history. */
  readonly historyRetentionMs: number;
  /**
   * none: keys are claimable at once (deposited elsewhere); export: likewise, and the leader writes the
   * deposit data of the keys it derives; submit: derived keys are claimable once their deposit, made by
   * the leader, is confirmed.
   */
  readonly depositMode: 'none' | 'export' | 'submit';
  /**
   * The network's slot clock (S8): genesis time, slot length and slots per epoch. Without it the pool
   * cannot compute the current slot, so keys whose last watermarks are unknown stay out of use.
   */
  readonly genesisTimeMs?: number | null;
  readonly slotMs?: number;
  readonly slotsPerEpoch?: number;
}

export interface Pool extends PoolSettings {
  readonly name: string;
  /** Next EIP-2334 index to derive: replicated so that no index is ever used twice. */
  nextDerivationIndex: number;
}

export interface CoreState {
  readonly pools: Map<string, Pool>;
  readonly keys: Map<string, PoolKey>;
  /** At most one lease per pod. */
  readonly leases: Map<string, Lease>;
  /** Source of lease ids: deterministic, so every replica names a lease the same way. */
  leaseSequence: number;
  /** Answers to recent releases that carried a request id, so a retried Release applies once. */
  readonly recentRequests: Map<string, RememberedRequest>;
  /**
   * Which pod held which key when, by lease id in grant order: open records for live leases, closed
   * ones kept for a while. Keyed by lease so that closing and pruning cost what the lease holds.
   */
  readonly history: Map<string, AssignmentRecord[]>;
}

export type AssignmentEnd = 'released' | 'expired' | 'fenced';

export interface AssignmentRecord {
  readonly pubKey: string;
  readonly podName: string;
  readonly leaseId: string;
  readonly pool: string;
  readonly fromMs: number;
  readonly toMs: number | null;
  readonly end: AssignmentEnd | null;
}

export interface RememberedRequest {
  /** The accepted command's outcome, returned again to a retry. */
  readonly outcome: unknown;
  readonly atMs: number;
}

export type ReadonlyCoreState = {
  readonly pools: ReadonlyMap<string, Readonly<Pool>>;
  readonly keys: ReadonlyMap<string, Readonly<PoolKey>>;
  readonly leases: ReadonlyMap<string, Lease>;
  readonly leaseSequence: number;
  readonly recentRequests: ReadonlyMap<string, RememberedRequest>;
  readonly history: ReadonlyMap<string, readonly AssignmentRecord[]>;
};

/** A key as it enters the pool: already encrypted once, sealed, ready to store. */
export interface NewPoolKey {
  readonly pubKey: string;
  readonly path: string;
  readonly sealedSecret: string;
  /** Slashing protection that comes with an imported key; none for a freshly derived one. */
  readonly protection?: KeyProtection | null;
}

export interface DerivedPoolKey extends NewPoolKey {
  readonly derivationIndex: number;
}
