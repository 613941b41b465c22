import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  applyCommand,
  createEmptyState,
  KEY_STATES,
  keyCountsByPool,
  planClaim,
  restoreSnapshot,
  restoreSnapshotText,
  snapshotText,
  stateHash,
  takeSnapshot,
  type ClaimOutcome,
  type Command,
  type ChainSighting,
  type CoreState,
  type DerivedPoolKey,
  type KeyProtection,
  type SigningMode,
} from '../../coordinator/core/index.js';
import { firstFreeKeys } from '../../coordinator/core/free-keys.js';
import { claimable, reservedForOther } from '../../coordinator/core/deposits.js';
import { hasSlotClock } from '../../coordinator/core/slot-clock.js';
import { intBetween, pick, seededRandom } from '../support/prng.js';

// Namespaced holders (Kubernetes identity) beside plain ones: namesakes in two namespaces are two holders.
const PODS = ['validator-0', 'validator-1', 'validator-2', 'team-a/validator-0', 'team-b/validator-0', 'bad_Pod!', 'Bad_NS/validator-0'];
/** Uids of successive pods under one name (a StatefulSet pod recreated), or none (no identity). */
const POD_UIDS = [undefined, 'uid-1', 'uid-2'];
const POOLS = ['mainnet', 'hoodi', 'nope'];

function fakePubKey(pool: string, n: number, salt = 0): string {
  const body = (pool.charCodeAt(0).toString(16) + n.toString(16).padStart(8, '0') + salt.toString(16)).padEnd(96, 'a');
  return '0x' + body.slice(0, 96);
}

function derivedKeysFor(state: CoreState, pool: string, podName: string, count: number, nowMs: number): DerivedPoolKey[] {
  const plan = planClaim(state, pool, podName, count, nowMs);
  if (!plan.ok) return [];
  return Array.from({ length: plan.value.missingKeys }, (_, i) => {
    const index = plan.value.nextDerivationIndex + i;
    return { pubKey: fakePubKey(pool, index), path: `m/12381/3600/${index}/0/0`, sealedSecret: `sealed-${pool}-${index}`, derivationIndex: index };
  });
}

/** The free keys of a pool by reading every key, oldest first: what the claim's heap must agree with. */
function freeKeysByScan(state: CoreState, pool: string, nowMs: number, podName: string): string[] {
  const poolState = state.pools.get(pool);
  const clockKnown = poolState !== undefined && hasSlotClock(poolState);
  return [...state.keys.values()]
    .filter((k) => k.pool === pool && claimable(k) && !(k.clockWatermarksDue && !clockKnown) && !reservedForOther(k, podName, nowMs, poolState?.leaseTtlMs ?? 0))
    .filter((k) => k.state === 'unallocated' || (k.state === 'cooling' && k.coolingUntilMs !== null && k.coolingUntilMs <= nowMs))
    .sort((a, b) => a.addedAtMs - b.addedAtMs || (a.pubKey < b.pubKey ? -1 : 1))
    .map((k) => k.pubKey);
}

/** Checks every invariant of the allocation table; returns the first violation or null. */
function violation(state: CoreState): string | null {
  const holders = new Map<string, string>();
  for (const lease of state.leases.values()) {
    if (lease.podName === undefined || state.leases.get(lease.podName) !== lease) return `lease ${lease.leaseId} filed under the wrong pod`;
    for (const pubKey of lease.pubKeys) {
      if (holders.has(pubKey)) return `key ${pubKey} held by ${holders.get(pubKey)} and ${lease.podName}`;
      holders.set(pubKey, lease.podName);
      const key = state.keys.get(pubKey);
      if (!key) return `lease ${lease.leaseId} names unknown key`;
      if (key.state !== 'allocated' || key.holderPod !== lease.podName || key.leaseId !== lease.leaseId) return `key ${pubKey} disagrees with lease ${lease.leaseId}`;
      if (key.pool !== lease.pool) return `key ${pubKey} of pool ${key.pool} in lease of pool ${lease.pool}`;
    }
  }
  for (const key of state.keys.values()) {
    if (key.deposit && key.deposit.status !== 'confirmed' && key.state !== 'unallocated') return `key ${key.pubKey} is ${key.state} before its deposit was confirmed`;
    if (!KEY_STATES.includes(key.state)) return `key ${key.pubKey} in unknown state ${key.state}`;
    if (key.state === 'allocated' && holders.get(key.pubKey) !== key.holderPod) return `allocated key ${key.pubKey} has no lease`;
    if (key.state !== 'allocated' && (key.holderPod !== null || key.leaseId !== null)) return `free key ${key.pubKey} names a holder`;
    if (key.state === 'cooling' && key.coolingUntilMs === null) return `cooling key ${key.pubKey} has no end`;
    if ((key.state === 'quarantined') !== (key.quarantine !== null)) return `key ${key.pubKey} is ${key.state} with${key.quarantine ? '' : 'out'} a quarantine record`;
    if (key.state !== 'cooling' && key.coolingUntilMs !== null) return `key ${key.pubKey} not cooling keeps a cooling end`;
    if (!state.pools.has(key.pool)) return `key ${key.pubKey} in unknown pool`;
    if (key.foreign && key.state !== 'unallocated') return `foreign key ${key.pubKey} (in use elsewhere) was handed out: it is ${key.state}`;
    if (key.foreign && key.deposit !== null && key.deposit.status !== 'confirmed') return `foreign key ${key.pubKey} still has a deposit to pay`;
  }
  for (const lease of state.leases.values()) {
    const open = (state.history.get(lease.leaseId) ?? []).filter((r) => r.toMs === null).map((r) => r.pubKey).sort();
    if (JSON.stringify(open) !== JSON.stringify([...lease.pubKeys].sort())) return `history of live lease ${lease.leaseId} does not list exactly its keys as open`;
  }
  for (const record of [...state.history.values()].flat()) {
    if (record.toMs === null && state.leases.get(record.podName)?.leaseId !== record.leaseId) return `history keeps ${record.leaseId} open after it ended`;
    if (record.toMs !== null && (record.end === null || record.toMs < record.fromMs)) return `history record of ${record.leaseId} closed without an end`;
  }
  const counts = keyCountsByPool(state);
  for (const pool of state.pools.values()) {
    const poolKeys = [...state.keys.values()].filter((k) => k.pool === pool.name);
    const byState = counts[pool.name]!;
    if (byState.unallocated + byState.allocated + byState.cooling + byState.quarantined !== poolKeys.length) return `counts of pool ${pool.name} do not add up`;
    const leased = [...state.leases.values()].filter((l) => l.pool === pool.name).reduce((n, l) => n + l.pubKeys.length, 0);
    if (leased !== byState.allocated) return `pool ${pool.name}: ${leased} leased keys but ${byState.allocated} allocated`;
    if (poolKeys.length > pool.maxKeys) return `pool ${pool.name} over its maximum`;
    const indices = poolKeys.map((k) => k.derivationIndex).filter((i): i is number => i !== null).sort((a, b) => a - b);
    // Distinct and below the next index: removed keys leave gaps, but no index is ever used twice.
    if (new Set(indices).size !== indices.length || indices.some((v) => v < 0 || v >= pool.nextDerivationIndex)) return `pool ${pool.name} derivation indices reused or beyond ${pool.nextDerivationIndex - 1}`;
  }
  return null;
}

const GVR = '0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95';

function randomProtection(random: () => number): KeyProtection {
  const mark = () => (random() < 0.2 ? null : String(intBetween(random, 0, 1000) + (random() < 0.1 ? 2 ** 60 : 0)));
  return { maxBlockSlot: mark(), maxSourceEpoch: mark(), maxTargetEpoch: mark() };
}

/** The deposit path of a pool that deposits its keys: add derived keys, record their transactions, confirm them. */
function randomDepositCommand(random: () => number, state: CoreState, pool: string, podName: string, nowMs: number, salt: number): Command {
  const keysOf = (status: string) => [...state.keys.values()].filter((k) => k.pool === pool && k.deposit?.status === status).map((k) => k.pubKey);
  const roll = random();
  if (roll < 0.3) {
    // Mostly from the pool's next index (as a short claim derives them), sometimes as a claim plans them.
    const next = state.pools.get(pool)?.nextDerivationIndex ?? 0;
    const keys = random() < 0.7 ? Array.from({ length: intBetween(random, 1, 3) }, (_, i) => ({ pubKey: fakePubKey(pool, next + i), path: `m/12381/3600/${next + i}/0/0`, sealedSecret: `sealed-${pool}-${next + i}`, derivationIndex: next + i })) : derivedKeysFor(state, pool, podName, intBetween(random, 1, 3), nowMs);
    return { type: 'AddDerivedKeys', nowMs, pool, keys, ...(random() < 0.7 ? { reservedFor: podName } : {}) };
  }
  if (roll < 0.4) {
    // The chain shows a key deposited already (sometimes one whose deposit is confirmed, which must be refused).
    const candidates = random() < 0.8 ? [...keysOf('awaiting'), ...keysOf('signed')] : keysOf('confirmed');
    return { type: 'RecordFoundDeposits', nowMs, found: candidates.slice(0, 2).map((pubKey, i) => ({ pubKey, sighting: randomSighting(random, salt * 10 + i) })) };
  }
  if (roll < 0.45) {
    const signed = [...state.keys.values()].find((k) => k.pool === pool && k.deposit?.status === 'signed');
    const nonce = (signed?.deposit?.nonce ?? 0) + intBetween(random, -1, 3);
    return { type: 'ReplaceDepositTransaction', nowMs, pubKey: signed?.pubKey ?? fakePubKey(pool, 1, 0), replacesTxHash: signed?.deposit?.txHash ?? '0x' + '00'.repeat(32), txHash: '0x' + (salt * 10 + 7).toString(16).padStart(64, '0'), rawTx: '0x02f9' + salt.toString(16), nonce };
  }
  if (roll < 0.75) {
    // Sometimes a key that is not awaiting (already signed): recording twice must be refused.
    const candidates = random() < 0.8 ? keysOf('awaiting') : keysOf('signed');
    return {
      type: 'RecordDepositTransactions',
      nowMs,
      transactions: candidates.slice(0, 2).map((pubKey, i) => ({ pubKey, txHash: '0x' + (salt * 10 + i).toString(16).padStart(64, '0'), rawTx: '0x02f8' + salt.toString(16), nonce: salt * 10 + i })),
    };
  }
  return { type: 'ConfirmDeposits', nowMs, confirmations: keysOf(random() < 0.9 ? 'signed' : 'awaiting').slice(0, 2).map((pubKey) => ({ pubKey, blockNumber: salt })) };
}

const GENESIS_MS = 1_600_000_000_000;

function randomSighting(random: () => number, n: number): ChainSighting {
  if (random() < 0.3) return { depositTxHash: null, depositBlockNumber: null, withdrawalCredentials: null, beaconStatus: pick(random, ['active_ongoing', 'pending_queued', 'Bad-Status']) };
  return { depositTxHash: '0x' + n.toString(16).padStart(64, 'c'), depositBlockNumber: n, withdrawalCredentials: random() < 0.9 ? '0x01' + '00'.repeat(31) : null, beaconStatus: null };
}

/** Keys seen on chain past the pool's next index, and the operator clearing foreign ones (or trying to). */
function randomChainCommand(random: () => number, state: CoreState, pool: string, nowMs: number, salt: number): Command {
  const poolState = state.pools.get(pool);
  const roll = random();
  if (roll < 0.35) {
    const from = poolState?.nextDerivationIndex ?? 0;
    // Mostly from the pool's next index; sometimes stale, as when a claim derived first.
    const fromIndex = random() < 0.85 ? from : Math.max(0, from - 1);
    const indices = [fromIndex + intBetween(random, 0, 1), fromIndex + intBetween(random, 2, 4)].filter(() => random() < 0.8);
    const keys = indices.map((index) => ({ key: { pubKey: fakePubKey(pool, index), path: `m/12381/3600/${index}/0/0`, sealedSecret: `sealed-${pool}-${index}`, derivationIndex: index }, sighting: randomSighting(random, salt + index) }));
    return { type: 'RestoreKeys', nowMs, pool, fromIndex, nextDerivationIndex: (indices.at(-1) ?? fromIndex) + 1, keys };
  }
  const foreign = [...state.keys.values()].filter((k) => k.pool === pool && k.foreign).map((k) => k.pubKey);
  const others = [...state.keys.values()].filter((k) => k.pool === pool).map((k) => k.pubKey);
  const pubKeys = [...foreign.filter(() => random() < 0.7), ...(random() < 0.2 ? [pick(random, [...others, fakePubKey(pool, 999_997, 3)])] : [])];
  if (roll < 0.6) return { type: 'ConfirmForeignKeys', nowMs, pool, pubKeys };
  const protection: Record<string, KeyProtection> = {};
  for (const pubKey of pubKeys) protection[pubKey] = randomProtection(random);
  return { type: 'ImportProtection', nowMs, pool, genesisValidatorsRoot: random() < 0.05 ? '0x' + '33'.repeat(32) : GVR, protection };
}

/** The three ways out of quarantine, aimed mostly at quarantined keys and their holders. */
function randomQuarantineExit(random: () => number, state: CoreState, pool: string, nowMs: number): Command {
  const quarantined = [...state.keys.values()].filter((k) => k.state === 'quarantined');
  const key = quarantined.length > 0 && random() < 0.9 ? pick(random, quarantined) : null;
  const holder = key?.quarantine ?? { podName: pick(random, PODS), podUid: pick(random, POD_UIDS) ?? null };
  const roll = random();
  if (roll < 0.4) return { type: 'HolderGone', nowMs, podName: holder.podName, podUid: random() < 0.9 ? holder.podUid : pick(random, POD_UIDS) ?? null };
  const pubKeys = key ? [key.pubKey, ...(random() < 0.3 ? [fakePubKey(pool, 5, 0)] : [])] : random() < 0.5 ? [] : [fakePubKey(pool, 5, 0)];
  if (roll < 0.75) {
    const protection: Record<string, KeyProtection> = {};
    if (key && random() < 0.6) protection[key.pubKey] = randomProtection(random);
    const podUid = random() < 0.9 ? holder.podUid : pick(random, POD_UIDS);
    return { type: 'ProveRemoval', nowMs, podName: holder.podName, ...(podUid ? { podUid } : {}), pubKeys, protection, genesisValidatorsRoot: random() < 0.05 ? '0x' + '22'.repeat(32) : GVR };
  }
  return { type: 'ReleaseQuarantine', nowMs, pool: key?.pool ?? pool, pubKeys };
}

function randomCommand(random: () => number, state: CoreState, nowMs: number, importSalt: number): Command {
  const roll = random();
  const podName = pick(random, PODS);
  const pool = pick(random, POOLS);
  if (roll < 0.05) {
    return {
      type: 'ConfigurePool',
      nowMs,
      pool,
      settings: {
        derive: random() < 0.7,
        maxKeys: intBetween(random, 1, 30),
        maxKeysPerClaim: intBetween(random, 1, 6),
        coolingMs: pick(random, [0, 500, 5000]),
        leaseTtlMs: 5000,
        genesisValidatorsRoot: '0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95',
        historyRetentionMs: 60_000,
        depositMode: random() < 0.3 ? 'submit' : 'none',
        // Mostly with a slot clock (S8); sometimes none, or a broken one that must be refused.
        ...(random() < 0.8 ? { genesisTimeMs: GENESIS_MS, slotMs: 2000, slotsPerEpoch: 8 } : random() < 0.5 ? { genesisTimeMs: GENESIS_MS, slotMs: 0, slotsPerEpoch: 8 } : {}),
      },
    };
  }
  if (roll < 0.45) {
    const count = intBetween(random, 0, 7);
    // Sometimes the proposer plans right, sometimes it races (stale plan or none).
    const derivedKeys = random() < 0.8 ? derivedKeysFor(state, pool, podName, count, nowMs) : [];
    const podUid = pick(random, POD_UIDS);
    const signingMode = pick(random, ['signer', 'keymanager', 'files', 'unknown', undefined, 'bogus'] as const);
    return { type: 'Claim', nowMs, podName, ...(podUid ? { podUid } : {}), pool, count, derivedKeys, ...(signingMode ? { signingMode: signingMode as SigningMode } : {}) };
  }
  if (roll < 0.52) return randomQuarantineExit(random, state, pool, nowMs);
  const lease = state.leases.get(podName);
  const leaseId = lease && random() < 0.9 ? lease.leaseId : `lease-${intBetween(random, 0, 50)}`;
  if (roll < 0.65) {
    // Sometimes with the client's slashing protection (now and then naming a foreign key or network).
    const held = lease?.pubKeys ?? [];
    const protection: Record<string, KeyProtection> = {};
    if (random() < 0.5) for (const pubKey of held) if (random() < 0.7) protection[pubKey] = randomProtection(random);
    if (random() < 0.05) protection[fakePubKey(pool, 999_999, 2)] = randomProtection(random);
    const genesisValidatorsRoot = random() < 0.05 ? '0x' + '11'.repeat(32) : GVR;
    // Mostly the pod that claimed; sometimes a namesake that replaced it.
    const podUid = random() < 0.85 ? lease?.podUid ?? undefined : pick(random, POD_UIDS);
    return { type: 'Release', nowMs, podName, ...(podUid ? { podUid } : {}), leaseId, requestId: `release-${importSalt}`, ...(random() < 0.6 ? { protection, genesisValidatorsRoot } : {}) };
  }
  if (roll < 0.68) {
    const poolKeys = [...state.keys.values()].filter((k) => k.pool === pool).map((k) => k.pubKey);
    return { type: 'RemoveKeys', nowMs, pool, pubKeys: poolKeys.filter(() => random() < 0.3).slice(0, 3) };
  }
  if (roll < 0.8) {
    // With the watermarks renewals reported (now and then naming a key the lease does not hold).
    const protection: Record<string, KeyProtection> = {};
    for (const pubKey of lease?.pubKeys ?? []) if (random() < 0.5) protection[pubKey] = randomProtection(random);
    if (random() < 0.03) protection[fakePubKey(pool, 999_998, 2)] = randomProtection(random);
    return { type: 'ExpireLease', nowMs, podName, leaseId, ...(random() < 0.5 ? { protection } : {}) };
  }
  if (roll < 0.9) {
    const keys = Array.from({ length: intBetween(random, 0, 3) }, (_, i) => ({ pubKey: fakePubKey(pool, 100000 + importSalt * 10 + i, 1), path: '', sealedSecret: 'sealed-import' }));
    if (random() < 0.1 && keys.length > 0) keys.push(keys[0]!);
    return { type: 'ImportKeys', nowMs, pool, keys };
  }
  if (roll < 0.91) return { type: 'FinishCooling', nowMs };
  if (roll < 0.95) return randomDepositCommand(random, state, pool, podName, nowMs, importSalt);
  if (roll < 0.98) return randomChainCommand(random, state, pool, nowMs, importSalt);
  return { type: 'Noop', nowMs };
}

test('invariants hold after every command of long random sequences, and refusals change nothing', () => {
  let applied = 0;
  let refused = 0;
  let retries = 0;
  const refusalCodes = new Set<string>();
  for (let seed = 1; seed <= 60; seed++) {
    const random = seededRandom(seed);
    const state = createEmptyState();
    const accepted: Array<{ command: Command; result: unknown }> = [];
    const watermarks = new Map<string, KeyProtection>();
    const transactions = new Map<string, string>();
    /** Keys quarantined and not let out by one of the three exits: nobody may have them. */
    const waiting = new Set<string>();
    let nowMs = 1_700_000_000_000;
    for (let step = 0; step < 400; step++) {
      nowMs += intBetween(random, 0, 400);
      const command = randomCommand(random, state, nowMs, step);
      const before = stateHash(state);
      const dueBefore = new Set([...state.keys.values()].filter((k) => k.clockWatermarksDue).map((k) => k.pubKey));
      const result = applyCommand(state, command);
      if (result.ok) {
        const value = result.value as { cooling?: readonly string[]; returned?: readonly string[]; released?: readonly string[] };
        if (command.type === 'HolderGone') for (const k of value.cooling ?? []) waiting.delete(k);
        if (command.type === 'ProveRemoval') for (const k of value.returned ?? []) waiting.delete(k);
        if (command.type === 'ReleaseQuarantine') for (const k of value.released ?? []) waiting.delete(k);
        if (command.type === 'RemoveKeys') for (const k of command.pubKeys) waiting.delete(k);
      }
      for (const key of state.keys.values()) {
        if (waiting.has(key.pubKey)) assert.is(key.state, 'quarantined', `seed ${seed} step ${step}: ${command.type} let ${key.pubKey} out of quarantine without proof, pod end or operator`);
        if (key.state === 'quarantined') waiting.add(key.pubKey);
      }
      if (result.ok && command.type === 'Claim') {
        // S8: a key whose last watermarks were unknown is handed out with watermarks at the current slot and epoch.
        const pool = state.pools.get(command.pool)!;
        for (const pubKey of (result.value as ClaimOutcome).lease.pubKeys) {
          if (!dueBefore.has(pubKey) || (result.value as ClaimOutcome).existing) continue;
          const slot = Math.floor((nowMs + pool.slotMs! - pool.genesisTimeMs!) / pool.slotMs!);
          const marks = state.keys.get(pubKey)!.protection!;
          assert.ok(BigInt(marks.maxBlockSlot!) >= BigInt(slot), `seed ${seed} step ${step}: ${pubKey} handed out with block watermark ${marks.maxBlockSlot} below slot ${slot}`);
          assert.ok(BigInt(marks.maxTargetEpoch!) >= BigInt(Math.floor(slot / pool.slotsPerEpoch!)), `seed ${seed} step ${step}: ${pubKey} handed out with target watermark below the epoch`);
        }
      }
      if (result.ok) applied++;
      else {
        refused++;
        refusalCodes.add(result.refusal.code);
        assert.is(stateHash(state), before, `seed ${seed} step ${step}: refused ${command.type} (${result.refusal.code}) changed the state`);
        assert.ok(result.refusal.message.length > 10, 'a refusal explains itself');
      }
      if (result.ok && command.type === 'Claim') {
        const { lease } = result.value as { lease: { podUid: string | null } };
        assert.is(lease.podUid, command.podUid ?? null, `seed ${seed} step ${step}: a claim was answered with the lease of another pod of that name`);
      }
      if (result.ok && command.type === 'Release') {
        const { lease } = result.value as { lease: { podUid: string | null } };
        assert.ok(lease.podUid === null || lease.podUid === command.podUid, `seed ${seed} step ${step}: a namesake pod released another pod's lease`);
      }
      const problem = violation(state);
      assert.is(problem, null, `seed ${seed} step ${step} after ${command.type}: ${problem}`);
      // The claim's heap of free keys agrees with a full scan, here and in a state restored from a snapshot.
      for (const pool of state.pools.keys()) {
        const pod = pick(random, PODS);
        const expected = freeKeysByScan(state, pool, nowMs, pod);
        const limit = intBetween(random, 1, expected.length + 2);
        assert.equal(firstFreeKeys(state, pool, nowMs, pod, limit).map((k) => k.pubKey), expected.slice(0, limit), `seed ${seed} step ${step} after ${command.type}: free keys of ${pool}`);
        if (random() < 0.05) assert.equal(firstFreeKeys(restoreSnapshot(takeSnapshot(state)), pool, nowMs, pod, limit).map((k) => k.pubKey), expected.slice(0, limit));
      }
      for (const key of state.keys.values()) {
        const earlier = watermarks.get(key.pubKey);
        for (const field of ['maxBlockSlot', 'maxSourceEpoch', 'maxTargetEpoch'] as const) {
          const before = earlier?.[field] ?? null;
          const after = key.protection?.[field] ?? null;
          assert.ok(before === null || (after !== null && BigInt(after) >= BigInt(before)), `seed ${seed} step ${step}: ${field} of ${key.pubKey} moved back from ${before} to ${after}`);
        }
        if (key.protection) watermarks.set(key.pubKey, key.protection);
        // Exactly once: a recorded deposit transaction is never replaced, nor its key dropped while in flight;
        // only once its nonce was taken (the proposer checks the chain) may a ReplaceDepositTransaction naming
        // it put another in its place, or a deposit found on chain stand for it.
        if (result.ok && command.type === 'ReplaceDepositTransaction' && command.pubKey === key.pubKey) {
          assert.is(transactions.get(key.pubKey) !== undefined && key.deposit?.rawTx === command.rawTx, true, `seed ${seed} step ${step}: a replacement took another transaction's place`);
          transactions.set(key.pubKey, command.rawTx);
        }
        if (result.ok && command.type === 'RecordFoundDeposits' && command.found.some((f) => f.pubKey === key.pubKey)) transactions.delete(key.pubKey);
        const recorded = transactions.get(key.pubKey);
        if (recorded !== undefined) assert.is(key.deposit?.rawTx, recorded, `seed ${seed} step ${step}: the deposit transaction of ${key.pubKey} changed`);
        else if (key.deposit?.rawTx) transactions.set(key.pubKey, key.deposit.rawTx);
      }
      for (const [pubKey] of transactions) {
        const deposit = state.keys.get(pubKey)?.deposit;
        if (deposit?.status === 'confirmed') transactions.delete(pubKey);
        else assert.ok(deposit, `seed ${seed} step ${step}: key ${pubKey} left the pool with its deposit in flight`);
      }
      if (result.ok && command.type === 'Release') accepted.push({ command, result });
      // A retry of an accepted request, even much later, returns the first answer and changes nothing.
      if (accepted.length > 0 && random() < 0.1) {
        const earlier = pick(random, accepted);
        const beforeRetry = stateHash(state);
        const retried = applyCommand(state, { ...earlier.command, nowMs: earlier.command.nowMs + intBetween(random, 0, 60_000) });
        assert.equal(retried, earlier.result, `seed ${seed} step ${step}: a retried ${earlier.command.type} got another answer`);
        assert.is(stateHash(state), beforeRetry, `seed ${seed} step ${step}: a retried ${earlier.command.type} changed the state`);
        retries++;
      }
      if (step % 50 === 0) {
        const restored = restoreSnapshot(JSON.parse(JSON.stringify(takeSnapshot(state))));
        assert.equal(takeSnapshot(restored), takeSnapshot(state), `seed ${seed} step ${step}: snapshot round trip differs`);
        assert.is(stateHash(restored), stateHash(state));
        // The text form the replicas store and send, cut into parts small enough that records span them.
        const fromText = restoreSnapshotText(snapshotText(takeSnapshot(state), 1 + (step % 300)));
        assert.equal(takeSnapshot(fromText), takeSnapshot(state), `seed ${seed} step ${step}: snapshot text round trip differs`);
      }
    }
  }
  assert.ok(applied > 5000 && refused > 2000, `both paths exercised (applied ${applied}, refused ${refused})`);
  assert.ok(retries > 500, `retries exercised (${retries})`);
  for (const code of ['INVALID_ARGUMENT', 'UNKNOWN_POOL', 'LEASE_CONFLICT', 'PREVIOUS_POD_HOLDS_LEASE', 'POOL_EXHAUSTED', 'NEEDS_KEYS', 'LEASE_NOT_FOUND', 'DUPLICATE_KEY', 'INVALID_INTERCHANGE', 'KEY_IN_USE', 'AWAITING_DEPOSITS', 'DEPOSIT_STATE']) {
    assert.ok(refusalCodes.has(code), `refusal ${code} was exercised`);
  }
});

test('a pod recreated under its name gets nothing of its predecessor\'s lease until that ends; namesakes in other namespaces are separate holders', () => {
  const state = createEmptyState();
  const nowMs = 1_700_000_000_000;
  const ok = (result: ReturnType<typeof applyCommand>) => {
    if (!result.ok) assert.unreachable(`refused: ${result.refusal.code} ${result.refusal.message}`);
    return result;
  };
  const leaseOf = (result: ReturnType<typeof applyCommand>) => (ok(result) as { value: ClaimOutcome }).value.lease;
  ok(applyCommand(state, { type: 'ConfigurePool', nowMs, pool: 'mainnet', settings: { derive: true, maxKeys: 10, maxKeysPerClaim: 2, coolingMs: 1000, leaseTtlMs: 5000, genesisValidatorsRoot: GVR, historyRetentionMs: 60_000, depositMode: 'none' } }));
  const claim = (podName: string, podUid: string) =>
    applyCommand(state, { type: 'Claim', nowMs, podName, podUid, pool: 'mainnet', count: 1, derivedKeys: derivedKeysFor(state, 'mainnet', podName, 1, nowMs) });

  const first = leaseOf(claim('team-a/validator-0', 'uid-1'));
  const namesake = leaseOf(claim('team-b/validator-0', 'uid-9'));
  assert.not.equal(namesake.pubKeys, first.pubKeys, 'another namespace, other keys');

  const replacement = claim('team-a/validator-0', 'uid-2');
  assert.is(replacement.ok, false);
  if (!replacement.ok) assert.is(replacement.refusal.code, 'PREVIOUS_POD_HOLDS_LEASE');
  const foreignRelease = applyCommand(state, { type: 'Release', nowMs, podName: 'team-a/validator-0', podUid: 'uid-2', leaseId: first.leaseId });
  assert.is(foreignRelease.ok, false, 'the replacement cannot release its predecessor\'s lease either');

  ok(applyCommand(state, { type: 'ExpireLease', nowMs: nowMs + 5000, podName: 'team-a/validator-0', leaseId: first.leaseId }));
  const after = leaseOf(claim('team-a/validator-0', 'uid-2'));
  assert.not.equal(after.pubKeys, first.pubKeys, 'the expired lease\'s key is quarantined: the replacement gets another');
  assert.is(state.keys.get(first.pubKeys[0]!)!.state, 'quarantined');
});

test('replaying the same commands on a fresh state gives the same state (determinism)', () => {
  const random = seededRandom(99);
  const original = createEmptyState();
  const log: Command[] = [];
  let nowMs = 1_700_000_000_000;
  for (let step = 0; step < 2000; step++) {
    nowMs += intBetween(random, 0, 300);
    const command = randomCommand(random, original, nowMs, step);
    log.push(JSON.parse(JSON.stringify(command)));
    applyCommand(original, command);
  }
  const replica = createEmptyState();
  for (const command of log) applyCommand(replica, command);
  assert.is(stateHash(replica), stateHash(original));
});

test.run();
