import type { Command, CommandOutcomes, CommandResult, ReadonlyCoreState } from '../../coordinator/core/index.js';
import type { AllocationInput, AllocationOperation, AllocationOutput } from '../support/allocation-model.js';
import { intBetween, pick } from '../support/prng.js';

export const POOL = 'p';
const PODS = ['pod-0', 'pod-1', 'pod-2', 'pod-3', 'pod-4', 'pod-5'];
const MAX_KEYS = 40;

/**
 * Allocation commands as the coordinator's API layer would propose them, chosen against the state the
 * proposing leader has applied (as the real leader does). Some will be refused when applied (a lease
 * released twice, a pod that already holds one): refusals are results too, and must match everywhere.
 */
export class Workload {
  private nextKey = 0;
  private releases = 0;

  constructor(private readonly random: () => number) {}

  next(nowMs: number, state: ReadonlyCoreState): Command {
    if (!state.pools.has(POOL)) {
      return { type: 'ConfigurePool', nowMs, pool: POOL, settings: { derive: false, maxKeys: MAX_KEYS, maxKeysPerClaim: 4, coolingMs: 50, leaseTtlMs: 10_000, genesisValidatorsRoot: '0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95', historyRetentionMs: 60_000, depositMode: 'none', genesisTimeMs: 0, slotMs: 12_000, slotsPerEpoch: 32 } };
    }
    const leases = [...state.leases.values()];
    const roll = this.random();
    if ((roll < 0.15 || state.keys.size < 4) && this.nextKey < MAX_KEYS) return this.importKeys(nowMs);
    // Agents in remote-signer mode, as the webhook sets pods up by default.
    if (roll < 0.5) return { type: 'Claim', nowMs, podName: pick(this.random, PODS), pool: POOL, count: intBetween(this.random, 1, 3), derivedKeys: [], signingMode: 'signer' };
    if (roll < 0.75 && leases.length > 0) {
      const lease = pick(this.random, leases);
      // Every other release carries a request id, as an agent's does (the API makes it optional). A
      // retry re-proposes the same command, id included, so a retry of an applied release answers ok.
      const requestId = this.releases++ % 2 === 0 ? { requestId: `release-${this.releases}` } : {};
      // Most releases carry the signer's watermarks (the keys are free at once); one in four comes
      // without, and its keys stay quarantined for the rest of the run.
      const withProtection = true;
      const protection = Object.fromEntries(lease.pubKeys.map((pubKey) => [pubKey, { maxBlockSlot: null, maxSourceEpoch: null, maxTargetEpoch: null }]));
      const proof = withProtection ? { protection, genesisValidatorsRoot: state.pools.get(POOL)!.genesisValidatorsRoot } : {};
      return { type: 'Release', nowMs, podName: lease.podName, leaseId: lease.leaseId, ...requestId, ...proof };
    }
    if (roll < 0.88 && leases.length > 0) {
      const lease = pick(this.random, leases);
      return { type: 'ExpireLease', nowMs, podName: lease.podName, leaseId: lease.leaseId };
    }
    return { type: 'FinishCooling', nowMs };
  }

  private importKeys(nowMs: number): Command {
    const keys = Array.from({ length: 4 }, () => {
      const n = this.nextKey++;
      return { pubKey: '0x' + n.toString(16).padStart(96, '0'), path: `m/12381/3600/${n}/0/0`, sealedSecret: `sealed-${n}` };
    });
    return { type: 'ImportKeys', nowMs, pool: POOL, keys };
  }
}

/**
 * What the clients asked and were answered, for the linearizability check at the end of a seed
 * (`allocationModel`, partitioned per pod): one operation per Claim, Release and ExpireLease proposal
 * that a replica accepted. `call` is the virtual time of the proposal; `return` the virtual time at
 * which the replica it went to applied it at the index and term it was proposed with, i.e. answered
 * the client. A proposal never answered so (its entry overwritten by another leader's, its replica
 * crashed or retired, its index covered by a snapshot) stays indeterminate: `return` and `output` null.
 * A retry is a new proposal, hence a new operation with the same input.
 *
 * Fit with the model, checked against `coordinator/core/apply.ts`:
 *  - ConfigurePool, ImportKeys and FinishCooling are not client-visible and are left out. They only
 *    change whether a claim without a lease finds keys, and the model allows POOL_EXHAUSTED (and
 *    UNKNOWN_POOL, before the pool exists) in any state without a lease.
 *  - Commands carry the proposer's `nowMs`, and a retry keeps the first one. In the core, `nowMs` only
 *    decides whether a cooling key is free yet (again just found-keys-or-exhausted, or which free keys
 *    a new lease gets: the model accepts any keys, and cross-pod sharing is `checkNoSharedKeys`'s), the
 *    lease's grant time (not visible) and how long a request id is remembered (15 minutes, far beyond a
 *    seed). Leases never expire by themselves: only ExpireLease ends them, and it is recorded.
 *  - A release frees its keys at once (the signer's watermarks come with it) or quarantines them (they
 *    do not), and an expiry sends them to cooling: either way only whether a later claim finds keys
 *    changes, which is invisible per pod.
 *  - A Claim for another count than the pod's lease holds is refused LEASE_CONFLICT; the model allows
 *    exactly that. A Claim for the same count gets the held lease back, which the model requires.
 *  - Release and ExpireLease name leases the proposing leader saw in its applied state, so they may
 *    name leases whose claim nobody saw answered: the model's 'unknown' holder covers that.
 *  - A Release's `requestId` is passed through; a retry carries the same one.
 */
export class ClientHistory {
  readonly operations: AllocationOperation[] = [];

  /** Records a proposal of `data` at `call`; null when the command is not client-visible. */
  proposed(data: string, call: number, clientId: string): AllocationOperation | null {
    const input = inputOf(JSON.parse(data) as Command);
    if (input === null) return null;
    const op: AllocationOperation = { clientId, input, call, return: null, output: null };
    this.operations.push(op);
    return op;
  }

  /** The proposing replica applied the op's entry at `at`: the client gets `result`. */
  answered(op: AllocationOperation, result: CommandResult, at: number): void {
    op.return = at;
    op.output = outputOf(op.input, result);
  }
}

function inputOf(command: Command): AllocationInput | null {
  switch (command.type) {
    case 'Claim':
      return { kind: 'claim', podName: command.podName, count: command.count };
    case 'Release':
      return { kind: 'release', podName: command.podName, leaseId: command.leaseId, ...(command.requestId !== undefined ? { requestId: command.requestId } : {}) };
    case 'ExpireLease':
      return { kind: 'expire', podName: command.podName, leaseId: command.leaseId };
    default:
      return null;
  }
}

function outputOf(input: AllocationInput, result: CommandResult): AllocationOutput {
  // A refusal's code goes through as it is: the model rejects any code it does not expect.
  if (!result.ok) return { ok: false, code: result.refusal.code } as AllocationOutput;
  if (input.kind !== 'claim') return { ok: true };
  const { lease } = result.value as CommandOutcomes['Claim'];
  return { ok: true, leaseId: lease.leaseId, pubKeys: [...lease.pubKeys] };
}
