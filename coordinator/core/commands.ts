import type { KeyProtection } from './protection.js';
import type { DerivedPoolKey, Lease, NewPoolKey, PoolSettings, SigningMode } from './types.js';

/**
 * Commands are the only way the state changes. Each carries the proposer's wall-clock time (`nowMs`)
 * so applying it reads no clock: every replica computes the same result from the same log.
 */
export type Command =
  | ConfigurePoolCommand
  | ClaimCommand
  | ReleaseCommand
  | ExpireLeaseCommand
  | ImportKeysCommand
  | FinishCoolingCommand
  | RemoveKeysCommand
  | AddDerivedKeysCommand
  | RecordDepositTransactionsCommand
  | ConfirmDepositsCommand
  | HolderGoneCommand
  | ProveRemovalCommand
  | ReleaseQuarantineCommand
  | NoopCommand;

export interface ConfigurePoolCommand {
  readonly type: 'ConfigurePool';
  readonly nowMs: number;
  readonly pool: string;
  readonly settings: PoolSettings;
}

export interface ClaimCommand {
  readonly type: 'Claim';
  readonly nowMs: number;
  readonly podName: string;
  /** Set when the pod's identity was verified; see Lease.podUid. */
  readonly podUid?: string;
  readonly pool: string;
  readonly count: number;
  /** Keys derived by the proposer because the pool looked short; added before allocation. */
  readonly derivedKeys: readonly DerivedPoolKey[];
  /** How the pod's client will sign with the keys (the agent says); absent counts as `unknown`. */
  readonly signingMode?: SigningMode;
}

export interface ReleaseCommand {
  readonly type: 'Release';
  readonly nowMs: number;
  readonly podName: string;
  /** Must be the lease's podUid when the lease has one: only the pod that claimed may release. */
  readonly podUid?: string;
  readonly leaseId: string;
  /**
   * Chosen by the agent per release and kept across its retries: a retry gets the first answer. A
   * Claim needs none: the pod is its key, and a pod's repeated claim returns the lease it holds.
   */
  readonly requestId?: string;
  /**
   * The validator client's slashing protection for (some of) the lease's keys, as it returned them on
   * removal. Keys it covers go straight back to the pool; keys it does not cover cool down first, since
   * nothing shows they stopped signing.
   */
  readonly protection?: Readonly<Record<string, KeyProtection>>;
  /** The network the protection was recorded on; must be the pool's. */
  readonly genesisValidatorsRoot?: string;
  /** 'fenced' when the agent let go because it could not renew in time. */
  readonly reason?: 'released' | 'fenced';
}

export interface ExpireLeaseCommand {
  readonly type: 'ExpireLease';
  readonly nowMs: number;
  readonly podName: string;
  readonly leaseId: string;
  /** The latest watermarks the leader received with the lease's renewals (checked when received). */
  readonly protection?: Readonly<Record<string, KeyProtection>>;
}

/**
 * Kubernetes shows the pod that last held quarantined keys gone (deleted, or replaced by a pod with
 * another uid): its containers cannot sign any more, so the keys cool down and return to the pool.
 */
export interface HolderGoneCommand {
  readonly type: 'HolderGone';
  readonly nowMs: number;
  readonly podName: string;
  /** The uid recorded with the quarantine; the proposer saw this pod gone. */
  readonly podUid: string | null;
}

/**
 * The agent of the pod that last held quarantined keys proves, later, that its client no longer holds
 * them (a Keymanager GET after DELETE): they return to the pool at once, with the protection it sends.
 */
export interface ProveRemovalCommand {
  readonly type: 'ProveRemoval';
  readonly nowMs: number;
  readonly podName: string;
  readonly podUid?: string;
  readonly pubKeys: readonly string[];
  readonly protection?: Readonly<Record<string, KeyProtection>>;
  readonly genesisValidatorsRoot?: string;
}

/** An operator confirms that the last holder of these quarantined keys stopped signing. */
export interface ReleaseQuarantineCommand {
  readonly type: 'ReleaseQuarantine';
  readonly nowMs: number;
  readonly pool: string;
  readonly pubKeys: readonly string[];
}

export interface ImportKeysCommand {
  readonly type: 'ImportKeys';
  readonly nowMs: number;
  readonly pool: string;
  readonly keys: readonly NewPoolKey[];
}

/** Returns cooled keys (cooling time passed) to the pool. */
export interface FinishCoolingCommand {
  readonly type: 'FinishCooling';
  readonly nowMs: number;
}

/** Takes unallocated keys out of the pool (admin Keymanager API DELETE); allocated ones are refused. */
export interface RemoveKeysCommand {
  readonly type: 'RemoveKeys';
  readonly nowMs: number;
  readonly pool: string;
  readonly pubKeys: readonly string[];
}

/** Adds keys derived for a pool that deposits them: they await their deposit before anyone may claim them. */
export interface AddDerivedKeysCommand {
  readonly type: 'AddDerivedKeys';
  readonly nowMs: number;
  readonly pool: string;
  readonly keys: readonly DerivedPoolKey[];
}

/** Signed deposit transactions, committed before they are broadcast (S4). */
export interface RecordDepositTransactionsCommand {
  readonly type: 'RecordDepositTransactions';
  readonly nowMs: number;
  readonly transactions: ReadonlyArray<{ readonly pubKey: string; readonly txHash: string; readonly rawTx: string; readonly nonce: number }>;
}

/** Deposits seen on chain with enough confirmations (or found by the reconciler): their keys become claimable. */
export interface ConfirmDepositsCommand {
  readonly type: 'ConfirmDeposits';
  readonly nowMs: number;
  readonly confirmations: ReadonlyArray<{ readonly pubKey: string; readonly blockNumber: number }>;
}

/** Appended by a new leader (Raft) or on start; changes nothing. */
export interface NoopCommand {
  readonly type: 'Noop';
  readonly nowMs: number;
}

export type CommandType = Command['type'];

export interface ClaimOutcome {
  readonly lease: Lease;
  /** The lease's keys as stored (sealed secrets included), in the lease's order: no second read needed. */
  readonly keys: readonly NewPoolKey[];
  /** True when the pod already held this lease and the same keys were returned. */
  readonly existing: boolean;
  readonly derivedCount: number;
}

export interface ReleaseOutcome {
  readonly lease: Lease;
  /** Keys that went to quarantine because nothing proved their client stopped signing. */
  readonly quarantined: readonly string[];
  /** Kept for callers that schedule FinishCooling: a release never sends keys to cooling any more. */
  readonly coolingUntilMs: number | null;
}

export interface ExpireOutcome {
  readonly lease: Lease;
  readonly coolingUntilMs: number | null;
  /** Keys that wait for proof (or their pod's end) before anyone else may have them. */
  readonly quarantined: readonly string[];
}

export interface ImportOutcome {
  readonly imported: readonly string[];
}

export interface RemoveKeysOutcome {
  /** The removed keys with the slashing protection known for each. */
  readonly removed: ReadonlyArray<{ readonly pubKey: string; readonly protection: KeyProtection | null }>;
}

export interface FinishCoolingOutcome {
  readonly returned: readonly string[];
}

export interface CommandOutcomes {
  ConfigurePool: { readonly pool: string; readonly created: boolean };
  Claim: ClaimOutcome;
  Release: ReleaseOutcome;
  ExpireLease: ExpireOutcome;
  ImportKeys: ImportOutcome;
  FinishCooling: FinishCoolingOutcome;
  RemoveKeys: RemoveKeysOutcome;
  AddDerivedKeys: { readonly added: readonly string[] };
  RecordDepositTransactions: { readonly recorded: number };
  ConfirmDeposits: { readonly confirmed: number };
  HolderGone: { readonly cooling: readonly string[]; readonly coolingUntilMs: number | null };
  ProveRemoval: { readonly returned: readonly string[] };
  ReleaseQuarantine: { readonly released: readonly string[] };
  Noop: Record<string, never>;
}
