import type { Command } from './commands.js';
import type { CommandResult } from './apply.js';
import { claimable, reservedForOther } from './deposits.js';
import { hasSlotClock } from './slot-clock.js';
import type { CoreState, PoolKey } from './types.js';

/**
 * Which free keys a claim takes: the oldest first (by when they entered the pool, then by public key),
 * found without reading the whole pool. Each pool keeps a min-heap of the keys that may be free
 * (unallocated or cooling); allocated, quarantined and removed keys are dropped when they surface, and
 * keys that become free again are pushed back as the command that frees them is applied. The heap is a
 * cache beside the state, never part of it: a superset of the free keys, so the answer is exactly what
 * a full scan in that order would give, on every replica alike.
 */
class KeyHeap {
  private readonly items: PoolKey[] = [];
  private readonly members = new Set<PoolKey>();

  get size(): number {
    return this.items.length;
  }

  push(key: PoolKey): void {
    if (this.members.has(key)) return;
    this.members.add(key);
    this.items.push(key);
    let at = this.items.length - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!before(this.items[at]!, this.items[parent]!)) break;
      [this.items[at], this.items[parent]] = [this.items[parent]!, this.items[at]!];
      at = parent;
    }
  }

  pop(): PoolKey | undefined {
    const top = this.items[0];
    if (top === undefined) return undefined;
    this.members.delete(top);
    const last = this.items.pop()!;
    if (this.items.length > 0) {
      this.items[0] = last;
      let at = 0;
      for (;;) {
        const left = 2 * at + 1;
        const right = left + 1;
        let least = at;
        if (left < this.items.length && before(this.items[left]!, this.items[least]!)) least = left;
        if (right < this.items.length && before(this.items[right]!, this.items[least]!)) least = right;
        if (least === at) break;
        [this.items[at], this.items[least]] = [this.items[least]!, this.items[at]!];
        at = least;
      }
    }
    return top;
  }
}

function before(a: PoolKey, b: PoolKey): boolean {
  return a.addedAtMs < b.addedAtMs || (a.addedAtMs === b.addedAtMs && a.pubKey < b.pubKey);
}

/** Heaps per pool, per state (keyed by the state's key table, so a restored state starts afresh). */
const heaps = new WeakMap<CoreState['keys'], Map<string, KeyHeap>>();

function heapOf(state: CoreState, pool: string): KeyHeap {
  let byPool = heaps.get(state.keys);
  if (!byPool) heaps.set(state.keys, (byPool = new Map()));
  let heap = byPool.get(pool);
  if (!heap) {
    heap = new KeyHeap();
    for (const key of state.keys.values()) if (key.pool === pool && mayBeFree(key)) heap.push(key);
    byPool.set(pool, heap);
  }
  return heap;
}

function mayBeFree(key: PoolKey): boolean {
  return key.state === 'unallocated' || key.state === 'cooling';
}

/**
 * Up to `limit` free keys of `pool` at `nowMs`, oldest first. Asked for a pod, keys kept for another
 * pod's claim (its deposits) are left out; keys whose watermarks must come from the clock (S8) wait
 * where the pool has no slot clock.
 */
export function firstFreeKeys(state: CoreState, pool: string, nowMs: number, podName: string | undefined, limit: number): PoolKey[] {
  const poolState = state.pools.get(pool);
  const clockKnown = poolState !== undefined && hasSlotClock(poolState);
  const leaseTtlMs = poolState?.leaseTtlMs ?? 0;
  const heap = heapOf(state, pool);
  const free: PoolKey[] = [];
  const keep: PoolKey[] = [];
  while (free.length < limit && heap.size > 0) {
    const key = heap.pop()!;
    if (state.keys.get(key.pubKey) !== key || !mayBeFree(key)) continue;
    keep.push(key);
    if (!claimable(key)) continue;
    if (key.clockWatermarksDue && !clockKnown) continue;
    if (podName !== undefined && reservedForOther(key, podName, nowMs, leaseTtlMs)) continue;
    if (key.state === 'unallocated' || (key.coolingUntilMs !== null && key.coolingUntilMs <= nowMs)) free.push(key);
  }
  // Looking changes nothing: every key that may be free stays in the heap (a claim's are dropped later).
  for (const key of keep) heap.push(key);
  return free;
}

/** Keeps the heaps in step with an applied command: keys it may have freed or added go (back) in. */
export function noteFreedKeys(state: CoreState, command: Command, result: CommandResult): void {
  const byPool = heaps.get(state.keys);
  if (!byPool || !result.ok) return;
  const value = result.value as Record<string, unknown>;
  let touched: readonly string[];
  switch (command.type) {
    case 'Claim':
      touched = (command.derivedKeys ?? []).map((k) => k.pubKey);
      break;
    case 'Release':
    case 'ExpireLease':
      touched = (value['lease'] as { pubKeys: readonly string[] }).pubKeys;
      break;
    case 'ImportKeys':
      touched = value['imported'] as string[];
      break;
    case 'AddDerivedKeys':
      touched = value['added'] as string[];
      break;
    case 'RestoreKeys':
      touched = value['restored'] as string[];
      break;
    case 'HolderGone':
    case 'ProveRemoval':
    case 'ReleaseQuarantine':
      // Rare, and they free keys by quarantine records: the heaps are rebuilt when next asked.
      heaps.delete(state.keys);
      return;
    default:
      // The others free no key that is not in the heap already (cooling and unallocated keys stay in it).
      return;
  }
  for (const pubKey of touched) {
    const key = state.keys.get(pubKey);
    if (key && mayBeFree(key)) byPool.get(key.pool)?.push(key);
  }
}
