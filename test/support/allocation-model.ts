/**
 * The sequential model of keylease's client-visible API (claim, release, and the leader's expiry) for
 * the linearizability checker.
 *
 * It is partitioned per pod: from a client's point of view each pod's lease is independent of every
 * other pod's. The one rule across pods — no key held by two pods at once — is not a per-pod property,
 * so the model cannot see it; `checkNoSharedKeys` checks it separately, from the answers' key lists.
 */
import type { Model, Operation } from './linearizability.js';

export type AllocationInput =
  | { kind: 'claim'; podName: string; count: number }
  /** `requestId` is chosen per release and kept across its retries: a retry gets the first answer. */
  | { kind: 'release'; podName: string; leaseId: string; requestId?: string }
  /** Issued by the leader when a lease's time ran out. */
  | { kind: 'expire'; podName: string; leaseId: string };

export type ClaimOutput = { ok: true; leaseId: string; pubKeys: string[] } | { ok: false; code: string };
export type ReleaseOutput = { ok: true } | { ok: false; code: 'LEASE_NOT_FOUND' };
export type AllocationOutput = ClaimOutput | ReleaseOutput;
export type AllocationOperation = Operation<AllocationInput, AllocationOutput>;

interface HeldLease {
  readonly leaseId: string;
  readonly pubKeys: readonly string[];
}

/** One pod's state; never changed in place, since the search keeps earlier states to backtrack to. */
export interface PodState {
  /** 'unknown': a claim whose answer was lost took effect; a later answer may name the lease. */
  readonly held: HeldLease | 'unknown' | null;
  /** Ids of the pod's leases that were released or expired, sorted: none may be handed out again. */
  readonly ended: readonly string[];
  /**
   * Request ids of accepted releases, sorted: a retry gets ok again. (The coordinator forgets them after
   * 15 minutes, far longer than an agent retries; the model never forgets.)
   */
  readonly acceptedReleases: readonly string[];
}

/** Refusals that depend on the request alone, so they may come in any state. */
const REQUEST_REFUSALS = new Set(['INVALID_ARGUMENT', 'UNKNOWN_POOL']);

type Step = { ok: boolean; state: PodState };

export const allocationModel: Model<PodState, AllocationInput, AllocationOutput> = {
  init: () => ({ held: null, ended: [], acceptedReleases: [] }),

  step(pod, input, output) {
    switch (input.kind) {
      case 'claim':
        return claim(pod, input.count, output);
      case 'release':
        return end(pod, input.leaseId, input.requestId, output);
      case 'expire':
        return end(pod, input.leaseId, undefined, output);
    }
  },

  partition(history) {
    const byPod = new Map<string, AllocationOperation[]>();
    for (const op of history) {
      const ops = byPod.get(op.input.podName) ?? [];
      ops.push(op);
      byPod.set(op.input.podName, ops);
    }
    return [...byPod.values()];
  },

  // Without its answer, a claim's count makes no difference (see claim), nor whether a lease ended by
  // release without a request id or by expiry (see end).
  unansweredKey(input) {
    if (input.kind === 'claim') return `claim ${input.podName}`;
    const requestId = input.kind === 'release' ? input.requestId : undefined;
    return `end ${input.podName} ${input.leaseId}${requestId === undefined ? '' : ` request ${requestId}`}`;
  },

  hash({ held, ended, acceptedReleases }) {
    const holding = held === null ? '-' : held === 'unknown' ? '?' : `${held.leaseId}:${held.pubKeys.join(',')}`;
    return `${holding}|${ended.join(',')}|${acceptedReleases.join(',')}`;
  },

  settled(pod, input, output) {
    // A refusal changes nothing wherever it may come (see claim and end below).
    if (!output.ok) return true;
    // A holder gets its own lease back. The pod holds it until it ends, and an ended lease is never
    // handed out again: in no later state may this answer change anything.
    if (input.kind === 'claim') return pod.held !== null && pod.held !== 'unknown';
    // A retry of an accepted release: its request id stays remembered.
    return input.kind === 'release' && input.requestId !== undefined && pod.acceptedReleases.includes(input.requestId);
  },

  describe(op) {
    const { input } = op;
    const request =
      input.kind === 'claim'
        ? `claim ${input.podName} ×${input.count}`
        : `${input.kind} ${input.podName} ${input.leaseId}${input.kind === 'release' && input.requestId ? ` (request ${input.requestId})` : ''}`;
    const answer = op.return === null || op.output === null ? 'no answer' : describeOutput(op.output);
    return `${op.clientId}: ${request} → ${answer} [${op.call}, ${op.return ?? '∞'}]`;
  },
};

function describeOutput(output: AllocationOutput): string {
  if (!output.ok) return output.code;
  return 'leaseId' in output ? `${output.leaseId} [${output.pubKeys.join(', ')}]` : 'ok';
}

function claim(pod: PodState, count: number, output: AllocationOutput | null): Step {
  const { held } = pod;
  if (output === null) {
    // If it took effect, a holder kept its lease and a pod without one got a lease nobody saw. (Had it
    // been refused, nothing changed: the checker covers that by leaving the op out.)
    return accept(held === null ? { ...pod, held: 'unknown' } : pod);
  }
  if (!output.ok) return { ok: refusalAllowed(held, count, output.code), state: pod };
  if (!('leaseId' in output) || output.pubKeys.length !== count) return reject(pod);
  if (held === null || held === 'unknown') {
    // A new lease, or the one a lost claim created: either way never one that already ended.
    const lease = { leaseId: output.leaseId, pubKeys: output.pubKeys };
    return pod.ended.includes(output.leaseId) ? reject(pod) : accept({ ...pod, held: lease });
  }
  // A pod that holds a lease gets that same lease back.
  const same = output.leaseId === held.leaseId && output.pubKeys.join() === held.pubKeys.join();
  return { ok: same, state: pod };
}

function refusalAllowed(held: PodState['held'], count: number, code: string): boolean {
  if (REQUEST_REFUSALS.has(code)) return true;
  if (held === null) return code !== 'LEASE_CONFLICT';
  // A holder asking for another number of keys conflicts; asking for the same number, it gets its lease.
  return code === 'LEASE_CONFLICT' && (held === 'unknown' || held.pubKeys.length !== count);
}

/** A release (with its request id, if any) or an expiry of `leaseId`. */
function end(pod: PodState, leaseId: string, requestId: string | undefined, output: AllocationOutput | null): Step {
  if (requestId !== undefined && pod.acceptedReleases.includes(requestId)) {
    // A retry of an accepted release gets its first answer again and changes nothing.
    return { ok: output === null || output.ok, state: pod };
  }
  if (output !== null && !output.ok && output.code !== 'LEASE_NOT_FOUND') return reject(pod);
  // Whether the pod holds `leaseId`. For a lease nobody saw, an ok answer names it (unless it already
  // ended) and a lost answer may have; a LEASE_NOT_FOUND says only that it is some other lease, which
  // this state cannot record, so it is accepted and changes nothing.
  const holds = pod.held === 'unknown' ? !pod.ended.includes(leaseId) && output?.ok !== false : pod.held?.leaseId === leaseId;
  if (!holds) return { ok: output === null || !output.ok, state: pod };
  if (output !== null && !output.ok) return reject(pod);
  return accept({
    held: null,
    ended: withSorted(pod.ended, leaseId),
    acceptedReleases: requestId === undefined ? pod.acceptedReleases : withSorted(pod.acceptedReleases, requestId),
  });
}

function accept(state: PodState): Step {
  return { ok: true, state };
}

function reject(state: PodState): Step {
  return { ok: false, state };
}

function withSorted(items: readonly string[], item: string): string[] {
  return [...items, item].sort();
}

/** How long a lease certainly held its keys, as far as the history shows. */
export interface Holding {
  podName: string;
  leaseId: string;
  pubKeys: readonly string[];
  /** The earliest return of a claim answered with this lease: it existed by then. */
  from: number;
  /** The earliest call of a release or expiry of it not refused (a lost one may have ended it); Infinity if none. */
  until: number;
}

export interface SharedKey {
  pubKey: string;
  holdings: [Holding, Holding];
}

/**
 * The safety property across pods: no key held by two pods at once. Each lease's holding interval is
 * the time it was certainly held — from a claim's answer to the call that may have ended it, open if
 * nothing ended it — so a handover (release and claim overlapping in time) is not reported, and a key
 * is reported only when two different pods' intervals overlap.
 */
export function checkNoSharedKeys(history: readonly AllocationOperation[]): SharedKey[] {
  const holdings = new Map<string, Holding>();
  const holdingKey = (podName: string, leaseId: string) => `${podName}\n${leaseId}`;
  for (const { input, output, return: returnedAt } of history) {
    if (input.kind !== 'claim' || returnedAt === null || output === null || !output.ok || !('leaseId' in output)) continue;
    const key = holdingKey(input.podName, output.leaseId);
    const holding = holdings.get(key);
    if (holding) holding.from = Math.min(holding.from, returnedAt);
    else holdings.set(key, { podName: input.podName, leaseId: output.leaseId, pubKeys: output.pubKeys, from: returnedAt, until: Infinity });
  }
  for (const { input, output, call, return: returnedAt } of history) {
    if (input.kind === 'claim' || (returnedAt !== null && output !== null && !output.ok)) continue;
    const holding = holdings.get(holdingKey(input.podName, input.leaseId));
    if (holding) holding.until = Math.min(holding.until, call);
  }

  const byPubKey = new Map<string, Holding[]>();
  for (const holding of holdings.values()) {
    for (const pubKey of holding.pubKeys) {
      const keyHoldings = byPubKey.get(pubKey) ?? [];
      keyHoldings.push(holding);
      byPubKey.set(pubKey, keyHoldings);
    }
  }
  const shared: SharedKey[] = [];
  for (const [pubKey, keyHoldings] of byPubKey) {
    for (let i = 0; i < keyHoldings.length; i++) {
      for (let j = i + 1; j < keyHoldings.length; j++) {
        const [a, b] = [keyHoldings[i]!, keyHoldings[j]!];
        if (a.podName !== b.podName && Math.max(a.from, b.from) < Math.min(a.until, b.until)) shared.push({ pubKey, holdings: [a, b] });
      }
    }
  }
  return shared;
}
