import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  allocationModel,
  checkNoSharedKeys,
  type AllocationInput,
  type AllocationOperation,
  type AllocationOutput,
  type ClaimOutput,
  type PodState,
} from '../support/allocation-model.js';
import { checkLinearizable, type Model, type Operation } from '../support/linearizability.js';
import { intBetween, pick, seededRandom } from '../support/prng.js';

const LIMIT = { timeoutMs: 10_000 };

function op<I, O>(clientId: string, input: I, call: number, returnedAt: number | null, output: O | null): Operation<I, O> {
  return { clientId, input, call, return: returnedAt, output };
}

// ---- a register, the classic example ----

type RegisterInput = { kind: 'write'; value: number } | { kind: 'read' };
type RegisterOutput = number | 'ok';

/** A register holding a number, initially 0: a write answers 'ok', a read the value. */
const registerModel: Model<number, RegisterInput, RegisterOutput> = {
  init: () => 0,
  step: (value, input, output) => (input.kind === 'write' ? { ok: true, state: input.value } : { ok: output === null || output === value, state: value }),
  hash: (value) => String(value),
};

/**
 * A cell written at most once: its clients never write it twice, so a second write has no legal outcome.
 * That is what makes leaving a lost op out observable: where every op is always possible, a lost op
 * placed after all the others looks the same as one left out.
 */
const writeOnceModel: Model<number | null, RegisterInput, RegisterOutput> = {
  init: () => null,
  step: (value, input, output) =>
    input.kind === 'write' ? { ok: value === null, state: input.value } : { ok: output === null || output === value, state: value },
  hash: (value) => String(value),
};

const write = (clientId: string, value: number, call: number, returnedAt: number | null) =>
  op<RegisterInput, RegisterOutput>(clientId, { kind: 'write', value }, call, returnedAt, returnedAt === null ? null : 'ok');
const read = (clientId: string, call: number, returnedAt: number, value: number) =>
  op<RegisterInput, RegisterOutput>(clientId, { kind: 'read' }, call, returnedAt, value);

test('register: reads concurrent with a write may see the old or the new value', () => {
  const history = [write('c0', 100, 0, 100), read('c1', 25, 75, 100), read('c2', 30, 60, 0), read('c1', 110, 120, 100)];
  assert.is(checkLinearizable(registerModel, history, LIMIT).result, 'ok');
  assert.is(checkLinearizable(registerModel, [write('c0', 1, 0, 10), read('c1', 10, 20, 0)], LIMIT).result, 'ok', 'ops that touch in time are concurrent');
});

test('register: a stale read is illegal, and the report shows the prefix and the op that could not follow', () => {
  const history = [write('c0', 1, 0, 10), read('c1', 20, 30, 0)];
  const { result, info } = checkLinearizable(registerModel, history, LIMIT);
  assert.is(result, 'illegal');
  assert.match(info ?? '', /cannot linearize c1: \{"kind":"read"\} → 0 \[20, 30\]/);
  assert.match(info ?? '', /prefix found \(1 ops\):\n {2}1\. c0: \{"kind":"write","value":1\}/);
  assert.match(info ?? '', /model state after it: 1$/);
});

test('a lost write whose value was read is linearized, but never before its call', () => {
  assert.is(checkLinearizable(registerModel, [write('c0', 1, 0, null), read('c1', 10, 20, 1)], LIMIT).result, 'ok');
  assert.is(checkLinearizable(registerModel, [read('c1', 0, 5, 1), write('c0', 1, 10, null)], LIMIT).result, 'illegal');
  assert.is(checkLinearizable(registerModel, [write('c0', 1, 0, null), read('c1', 10, 20, 5)], LIMIT).result, 'illegal', 'placing a lost op places no answered one');
});

test('a lost write that cannot have taken effect is left out', () => {
  const history = [write('c0', 1, 0, null), write('c1', 2, 5, 6), read('c1', 10, 11, 2)];
  assert.is(checkLinearizable(writeOnceModel, history, LIMIT).result, 'ok');
  const answered = [write('c0', 1, 0, 20), write('c1', 2, 5, 6), read('c1', 10, 11, 2)];
  assert.is(checkLinearizable(writeOnceModel, answered, LIMIT).result, 'illegal', 'control: the same write answered must be placed');
});

test('memoisation: a dozen overlapping writes and a read of the first one check quickly', () => {
  // Without skipping explored (linearized set, state) pairs the search would try on the order of 11! orders.
  const history = [...Array.from({ length: 12 }, (_, i) => write(`c${i}`, i + 1, 0, 100)), read('reader', 200, 201, 1)];
  assert.is(checkLinearizable(registerModel, history, { timeoutMs: 5_000 }).result, 'ok');
});

test('lost ops that change nothing are left out rather than tried in every combination', () => {
  // Placing any subset of the 30 lost reads gives the same state; trying each subset would not end in time.
  const lostReads = Array.from({ length: 30 }, (_, i) => op<RegisterInput, RegisterOutput>(`r${i}`, { kind: 'read' }, 2, null, null));
  const history = [write('c0', 1, 0, 1), ...lostReads, read('c1', 10, 11, 0)];
  assert.is(checkLinearizable(registerModel, history, { timeoutMs: 2_000 }).result, 'illegal');
});

/** The register with reads declared settled (they never change the value): the checker places a legal read at once and never revisits it. */
const registerWithReads: Model<number, RegisterInput, RegisterOutput> = { ...registerModel, settled: (_value, input) => input.kind === 'read' };

test('settled answers (reads) are placed at once: many concurrent reads decide quickly, and a stale one is still found', () => {
  // 40 reads of 0 and 40 of 1 around one write: without placing reads at once, every subset of the 80 reads
  // linearized before the write is another (set, state) pair to explore.
  const reads = (value: number) => Array.from({ length: 40 }, (_, i) => read(`r${value}-${i}`, 1 + i, 500 + i, value));
  const history = [write('w', 1, 0, 400), ...reads(0), ...reads(1)];
  const started = performance.now();
  assert.is(checkLinearizable(registerWithReads, history, { timeoutMs: 2_000 }).result, 'ok');
  console.log(`  80 concurrent reads and a write: decided in ${(performance.now() - started).toFixed(0)} ms`);
  assert.is(checkLinearizable(registerModel, history, { timeoutMs: 300 }).result, 'unknown', 'without settled placement the same history is not decided');
  // Soundness: placing reads at once must not hide a stale read that comes after the write returned.
  const stale = [write('w', 1, 0, 400), ...reads(0), read('late', 450, 460, 0)];
  assert.is(checkLinearizable(registerWithReads, stale, { timeoutMs: 2_000 }).result, 'illegal');
  // Nor one that must come before a write settled placement would have let it follow.
  const order = [write('w1', 1, 0, 10), read('r', 5, 30, 2), write('w2', 2, 20, 40), read('r2', 50, 60, 1)];
  assert.is(checkLinearizable(registerWithReads, order, LIMIT).result, 'illegal');
});

test('a history too hard to decide in time gives unknown', () => {
  // 24 overlapping writes, then a read of a value none wrote: the search must try every subset of the
  // writes with every last write (24 × 2^23 states) before it could say illegal.
  const history = [...Array.from({ length: 24 }, (_, i) => write(`c${i}`, i + 1, 0, 100)), read('reader', 200, 201, 999)];
  const started = performance.now();
  const { result, info } = checkLinearizable(registerModel, history, { timeoutMs: 200 });
  console.log(`  pathological history: ${result} after ${(performance.now() - started).toFixed(0)} ms (timeout 200 ms)`);
  assert.is(result, 'unknown');
  assert.match(info ?? '', /not decided within 200 ms/);
});

// ---- the allocation model ----

const claim = (clientId: string, podName: string, count: number, call: number, returnedAt: number | null, output: ClaimOutput | null) =>
  op<AllocationInput, AllocationOutput>(clientId, { kind: 'claim', podName, count }, call, returnedAt, output);
const release = (clientId: string, podName: string, leaseId: string, call: number, returnedAt: number | null, output: AllocationOutput | null, requestId?: string) =>
  op<AllocationInput, AllocationOutput>(clientId, { kind: 'release', podName, leaseId, ...(requestId ? { requestId } : {}) }, call, returnedAt, output);
const expire = (podName: string, leaseId: string, call: number, returnedAt: number | null, output: AllocationOutput | null) =>
  op<AllocationInput, AllocationOutput>('leader', { kind: 'expire', podName, leaseId }, call, returnedAt, output);
const granted = (leaseId: string, ...pubKeys: string[]): ClaimOutput => ({ ok: true, leaseId, pubKeys });
const refused = (code: string): ClaimOutput => ({ ok: false, code });
const OK: AllocationOutput = { ok: true };
const NOT_FOUND: AllocationOutput = { ok: false, code: 'LEASE_NOT_FOUND' };

const checkAllocations = (history: AllocationOperation[]) => checkLinearizable(allocationModel, history, LIMIT);

test('allocation: a pod still holding a lease must get that lease back, not another; the report names the pod', () => {
  const otherPods = [claim('b', 'validator-3', 1, 0, 1, granted('lease-1', 'k1')), release('b', 'validator-3', 'lease-1', 2, 3, OK)];
  const history = [...otherPods, claim('a', 'validator-7', 1, 0, 1, granted('lease-2', 'k2')), claim('a', 'validator-7', 1, 2, 3, granted('lease-3', 'k3'))];
  const { result, info } = checkAllocations(history);
  assert.is(result, 'illegal');
  assert.match(info ?? '', /cannot linearize a: claim validator-7 ×1 → lease-3 \[k3\]/);
  assert.not.match(info ?? '', /validator-3/);

  const releasedFirst = [claim('a', 'validator-7', 1, 0, 1, granted('lease-2', 'k2')), release('a', 'validator-7', 'lease-2', 2, 3, OK), claim('a', 'validator-7', 1, 4, 5, granted('lease-3', 'k3'))];
  assert.is(checkAllocations(releasedFirst).result, 'ok', 'control: after a release a new lease is fine');
});

test('allocation: two concurrent claims of one pod, one creating the lease and one seeing it as existing, are linearizable', () => {
  const history = [claim('a', 'validator-0', 2, 0, 10, granted('lease-1', 'k1', 'k2')), claim('b', 'validator-0', 2, 2, 8, granted('lease-1', 'k1', 'k2'))];
  assert.is(checkAllocations(history).result, 'ok');
  const twoLeases = [claim('a', 'validator-0', 2, 0, 10, granted('lease-1', 'k1', 'k2')), claim('b', 'validator-0', 2, 2, 8, granted('lease-2', 'k3', 'k4'))];
  assert.is(checkAllocations(twoLeases).result, 'illegal', 'control: concurrent claims of one pod cannot create two leases');
});

test('allocation: a release answered ok twice is illegal unless the second is a retry with the same request id', () => {
  const claimed = claim('a', 'validator-0', 1, 0, 1, granted('lease-1', 'k1'));
  const first = release('a', 'validator-0', 'lease-1', 2, 3, OK, 'request-1');
  assert.is(checkAllocations([claimed, first, release('a', 'validator-0', 'lease-1', 4, 5, OK, 'request-2')]).result, 'illegal');
  assert.is(checkAllocations([claimed, first, release('a', 'validator-0', 'lease-1', 4, 5, OK)]).result, 'illegal');
  assert.is(checkAllocations([claimed, first, release('a', 'validator-0', 'lease-1', 4, 5, NOT_FOUND, 'request-2')]).result, 'ok');
  // The retry answers ok again and releases nothing: the pod's next lease stays held.
  const retried = [
    claimed,
    first,
    claim('a', 'validator-0', 1, 4, 5, granted('lease-2', 'k1')),
    release('a', 'validator-0', 'lease-1', 6, 7, OK, 'request-1'),
    claim('a', 'validator-0', 1, 8, 9, granted('lease-2', 'k1')),
  ];
  assert.is(checkAllocations(retried).result, 'ok');
});

test('allocation: a lost claim is linearized when a later answer shows the lease it created', () => {
  const expiredOnly = [expire('validator-0', 'lease-1', 5, 6, OK)];
  assert.is(checkAllocations(expiredOnly).result, 'illegal', 'control: nothing created lease-1');
  assert.is(checkAllocations([claim('a', 'validator-0', 1, 0, null, null), ...expiredOnly]).result, 'ok');
  const recordedAnyway = claim('a', 'validator-0', 1, 0, null, granted('lease-9', 'k9'));
  assert.is(checkAllocations([recordedAnyway, ...expiredOnly]).result, 'ok', 'the output of an op without an answer is ignored');
  const seenByRetry = [claim('a', 'validator-0', 1, 0, null, null), claim('a', 'validator-0', 1, 5, 6, granted('lease-1', 'k1')), release('a', 'validator-0', 'lease-9', 7, 8, NOT_FOUND)];
  assert.is(checkAllocations(seenByRetry).result, 'ok');
});

test('allocation: a lease that ended is never handed out again, and a holder is never refused for want of keys', () => {
  const claimed = claim('a', 'validator-0', 2, 0, 1, granted('lease-1', 'k1', 'k2'));
  assert.is(checkAllocations([claimed, expire('validator-0', 'lease-1', 2, 3, OK), claim('a', 'validator-0', 2, 4, 5, granted('lease-1', 'k1', 'k2'))]).result, 'illegal');
  assert.is(checkAllocations([claimed, claim('a', 'validator-0', 2, 2, 3, refused('POOL_EXHAUSTED'))]).result, 'illegal');
  assert.is(checkAllocations([claimed, claim('a', 'validator-0', 3, 2, 3, refused('LEASE_CONFLICT'))]).result, 'ok', 'another key count conflicts');
  const exhaustedFirst = [claim('a', 'validator-0', 2, 0, 1, refused('POOL_EXHAUSTED')), claim('a', 'validator-0', 2, 2, 3, granted('lease-1', 'k1', 'k2'))];
  assert.is(checkAllocations(exhaustedFirst).result, 'ok', 'a refusal changes nothing');
});

test("allocation: a holder's claims answered with its own lease are settled, so an illegal history with twenty of them decides at once", () => {
  // Twenty concurrent claims all answered with lease-1, a release of it, then lease-1 handed out again.
  // The search must show that no order works; without settled placement it tries every subset of the
  // twenty claims (millions of steps), with it they are placed as soon as the pod holds lease-1.
  const lease1 = granted('lease-1', 'k1');
  const history = (last: ClaimOutput) => [
    ...Array.from({ length: 20 }, (_, i) => claim(`c${i}`, 'validator-0', 1, i, 100 + i, lease1)),
    release('r', 'validator-0', 'lease-1', 0, 300, OK),
    claim('x', 'validator-0', 1, 310, 320, last),
  ];
  const illegal = checkLinearizable(allocationModel, history(lease1), { maxSteps: 100_000 });
  console.log(`  20 concurrent claims of a held lease, then the ended lease again: ${illegal.result} in ${illegal.steps} steps`);
  assert.is(illegal.result, 'illegal');
  assert.is(checkLinearizable(allocationModel, history(granted('lease-2', 'k2')), { maxSteps: 100_000 }).result, 'ok', 'control: a new lease after the release');
  const unsettled: Model<PodState, AllocationInput, AllocationOutput> = { ...allocationModel, settled: undefined };
  assert.is(checkLinearizable(unsettled, history(lease1), { maxSteps: 100_000 }).result, 'unknown', 'without settled placement the same budget does not decide it');
});

test("allocation: settled placement stays sound: a holder's claim may still precede a concurrent release, and an ended lease is still caught", () => {
  const claimed = claim('a', 'validator-0', 1, 0, 1, granted('lease-1', 'k1'));
  const slowClaim = claim('b', 'validator-0', 1, 2, 100, granted('lease-1', 'k1'));
  assert.is(checkAllocations([claimed, slowClaim, release('a', 'validator-0', 'lease-1', 3, 4, OK)]).result, 'ok');
  assert.is(checkAllocations([claimed, release('a', 'validator-0', 'lease-1', 3, 4, OK), claim('b', 'validator-0', 1, 5, 100, granted('lease-1', 'k1'))]).result, 'illegal');
  // A retried release answered ok is settled once its request id is remembered; a different id is not a retry.
  const released = release('a', 'validator-0', 'lease-1', 3, 4, OK, 'request-1');
  const retries = Array.from({ length: 20 }, (_, i) => release(`r${i}`, 'validator-0', 'lease-1', 5 + i, 200, OK, 'request-1'));
  assert.is(checkLinearizable(allocationModel, [claimed, released, ...retries], { maxSteps: 10_000 }).result, 'ok');
  const notARetry = release('z', 'validator-0', 'lease-1', 5, 200, OK, 'request-2');
  assert.is(checkLinearizable(allocationModel, [claimed, released, ...retries, notARetry], { maxSteps: 100_000 }).result, 'illegal');
});

test('allocation: lost claims of any count are interchangeable, yet every one of them may still take effect', () => {
  // Fifteen lost claims (counts 1 to 3), each lease they created then released by an answer that
  // names it; finally one of those ended leases handed out again. Treated as three kinds of request
  // (by count) the search tries which kind created which lease; as one kind, only call order.
  const history = (last: ClaimOutput) => [
    ...Array.from({ length: 15 }, (_, i) => claim(`lost${i}`, 'validator-0', 1 + (i % 3), 0, null, null)),
    ...Array.from({ length: 15 }, (_, i) => release('r', 'validator-0', `lease-${i}`, 10 + 10 * i, 15 + 10 * i, OK)),
    claim('x', 'validator-0', 1, 1000, 1001, last),
  ];
  const keyed = checkLinearizable(allocationModel, history(granted('lease-0', 'k1')), { maxSteps: 100_000 });
  const byInput = checkLinearizable({ ...allocationModel, unansweredKey: undefined }, history(granted('lease-0', 'k1')), { maxSteps: 100_000 });
  console.log(`  15 lost claims, 15 leases nobody saw, an ended one again: ${keyed.result} in ${keyed.steps} steps (${byInput.steps} with claims told apart by count)`);
  assert.is(keyed.result, 'illegal');
  assert.is(byInput.result, 'illegal');
  assert.ok(keyed.steps * 5 < byInput.steps, `${keyed.steps} steps, not well below ${byInput.steps}`);
  assert.is(checkLinearizable(allocationModel, history(granted('lease-new', 'k1')), { maxSteps: 100_000 }).result, 'ok', 'control: every lost claim took effect');
  // Two leases nobody saw need two lost claims: placing them in call order must not stop the second.
  const twoLost = [claim('a', 'validator-0', 1, 0, null, null), claim('b', 'validator-0', 3, 0, null, null)];
  const twoLeases = [release('a', 'validator-0', 'lease-7', 10, 11, OK), release('b', 'validator-0', 'lease-8', 20, 21, OK)];
  assert.is(checkAllocations([...twoLost, ...twoLeases]).result, 'ok');
  assert.is(checkAllocations([twoLost[0]!, ...twoLeases]).result, 'illegal', 'control: one lost claim cannot create two leases');
});

/**
 * Seed 1036's pod-0, reduced: a stale leader's lost expiries, releases (with and without request id)
 * and a claim of lease-1, then the real leader's expiry of it, concurrent with many LEASE_NOT_FOUND
 * answers, a new lease and LEASE_CONFLICT refusals. Before refusals were placed at once (commit
 * 4c6e464), the checker left the seed undecided after 60 s, and this history after 10 s either way.
 */
function staleLeaderHistory(lateNotFound: boolean): AllocationOperation[] {
  const history: AllocationOperation[] = [claim('n1', 'pod-0', 3, 413, 587, granted('lease-1', 'k0', 'k1', 'k2')), claim('n1', 'pod-0', 1, 420, 587, refused('LEASE_CONFLICT'))];
  const lost = [1031, 1047, 1114, 1139, 1193].map((call) => expire('pod-0', 'lease-1', call, null, null));
  lost.push(claim('n3', 'pod-0', 1, 1076, null, null), release('n3', 'pod-0', 'lease-1', 1101, null, null, 'release-1'));
  lost.push(release('n3', 'pod-0', 'lease-1', 1170, null, null), release('n3', 'pod-0', 'lease-1', 1209, null, null, 'release-3'));
  history.push(...lost);
  history.push(expire('pod-0', 'lease-1', 2040, 3050, OK), claim('n1', 'pod-0', 1, 2083, 3050, granted('lease-5', 'k8')));
  for (let i = 0; i < 16; i++) {
    const call = 2058 + 40 * i;
    const end = i % 3 === 0 ? release('n1', 'pod-0', 'lease-1', call, 3050 + 8 * i, NOT_FOUND, `release-${i}`) : expire('pod-0', 'lease-1', call, 3050 + 8 * i, NOT_FOUND);
    history.push(end);
  }
  for (const call of [2531, 2839]) history.push(claim('n1', 'pod-0', 2, call, call + 600, refused('LEASE_CONFLICT')));
  history.push(claim('n1', 'pod-0', 1, 2627, 3127, granted('lease-5', 'k8')));
  // Returned before the expiry was even called, while the pod still held lease-1: only a lost end could
  // explain it, and that end would leave nothing for the answered expiry to end.
  if (lateNotFound) history.push(expire('pod-0', 'lease-1', 1500, 1600, NOT_FOUND));
  return history;
}

test("allocation: a stale leader's lost ends beside the real leader's answers (seed 1036) decide either way", () => {
  const ok = checkLinearizable(allocationModel, staleLeaderHistory(false), { maxSteps: 100_000 });
  const illegal = checkLinearizable(allocationModel, staleLeaderHistory(true), { maxSteps: 100_000 });
  console.log(`  stale leader's lost ends: ${ok.result} in ${ok.steps} steps; with a LEASE_NOT_FOUND too early: ${illegal.result} in ${illegal.steps} steps`);
  assert.is(ok.result, 'ok', ok.info);
  // Answered ops are tried before lost ones, so the correct history decides in about one pass.
  assert.ok(ok.steps < 5 * staleLeaderHistory(false).length, `${ok.steps} steps`);
  assert.is(illegal.result, 'illegal');
  assert.match(illegal.info ?? '', /cannot linearize/);
});

test('budget: a step budget gives the same verdict on any machine, and a check without a budget is refused', () => {
  const history = [...Array.from({ length: 24 }, (_, i) => write(`c${i}`, i + 1, 0, 100)), read('reader', 200, 201, 999)];
  const first = checkLinearizable(registerModel, history, { maxSteps: 20_000 });
  assert.equal(first, checkLinearizable(registerModel, history, { maxSteps: 20_000 }));
  assert.is(first.result, 'unknown');
  assert.match(first.info ?? '', /not decided within 20000 steps \(partition 1 of 1, 25 ops\)/);
  assert.ok(first.steps > 20_000 && first.steps <= 20_001, `${first.steps} steps`);
  assert.throws(() => checkLinearizable(registerModel, history, {}), /needs a budget: give timeoutMs, maxSteps or both/);
});

// ---- the cross-pod safety property ----

test('no shared keys: a key held by two pods at once is reported; a handover or a lost release is not', () => {
  const held = claim('a', 'validator-0', 1, 0, 1, granted('lease-1', 'k1'));
  const takenOver = (call: number, returnedAt: number) => claim('b', 'validator-1', 1, call, returnedAt, granted('lease-2', 'k1'));

  const neverReleased = checkNoSharedKeys([held, takenOver(2, 3)]);
  assert.equal(neverReleased.map((s) => [s.pubKey, s.holdings.map((h) => h.podName)]), [['k1', ['validator-0', 'validator-1']]]);

  assert.equal(checkNoSharedKeys([held, release('a', 'validator-0', 'lease-1', 5, 10, OK), takenOver(6, 8)]), [], 'handover');
  assert.equal(checkNoSharedKeys([held, release('a', 'validator-0', 'lease-1', 5, null, null), takenOver(20, 21)]), [], 'lost release');
  assert.is(checkNoSharedKeys([held, release('a', 'validator-0', 'lease-1', 5, 10, OK), takenOver(2, 4)]).length, 1, 'taken before the release was sent');
  assert.is(checkNoSharedKeys([held, release('a', 'validator-0', 'lease-1', 5, 6, NOT_FOUND), takenOver(20, 21)]).length, 1, 'a refused release ends nothing');
  const alsoSeenLater = claim('c', 'validator-0', 1, 0, 30, granted('lease-1', 'k1'));
  const releasedEarly = [held, alsoSeenLater, release('a', 'validator-0', 'lease-1', 20, 25, OK), takenOver(2, 3)];
  assert.is(checkNoSharedKeys(releasedEarly).length, 1, 'a lease is held from the first answer naming it');
  // Two leases of one pod are the per-pod model's business, not this check's.
  assert.equal(checkNoSharedKeys([held, claim('a', 'validator-0', 1, 5, 6, granted('lease-3', 'k1'))]), []);
});

// ---- a large history from a correct allocator ----

/** The allocation rules at their simplest, one pool, to produce correct answers. */
class ReferenceAllocator {
  readonly leases = new Map<string, { leaseId: string; pubKeys: string[] }>();
  private readonly free: string[];
  private readonly acceptedReleases = new Set<string>();
  private leaseSequence = 0;

  constructor(keys: string[]) {
    this.free = [...keys];
  }

  apply(input: AllocationInput): AllocationOutput {
    if (input.kind === 'claim') {
      const held = this.leases.get(input.podName);
      if (held) return held.pubKeys.length === input.count ? { ok: true, ...held } : refused('LEASE_CONFLICT');
      if (this.free.length < input.count) return refused('POOL_EXHAUSTED');
      const lease = { leaseId: `lease-${++this.leaseSequence}`, pubKeys: this.free.splice(0, input.count) };
      this.leases.set(input.podName, lease);
      return { ok: true, ...lease };
    }
    const requestId = input.kind === 'release' ? input.requestId : undefined;
    if (requestId !== undefined && this.acceptedReleases.has(requestId)) return OK;
    const held = this.leases.get(input.podName);
    if (held?.leaseId !== input.leaseId) return NOT_FOUND;
    this.free.push(...held.pubKeys);
    this.leases.delete(input.podName);
    if (requestId !== undefined) this.acceptedReleases.add(requestId);
    return OK;
  }
}

interface Client {
  readonly id: string;
  /** null for the leader, which expires leases of any pod. */
  readonly podName: string | null;
  readonly count: number;
  busy: boolean;
  leaseId: string | null;
  /** A release whose answer was lost, sent again with the same request id. */
  retry: AllocationInput | null;
}

interface InFlight {
  readonly op: AllocationOperation;
  readonly client: Client;
  /** When it takes effect; null: it never reaches the allocator. */
  readonly effectAt: number | null;
  readonly answerAt: number;
  output: AllocationOutput | null;
}

/**
 * A history of a correct allocator: each op takes effect at a random tick strictly inside its
 * call–return window, applied in that order to the reference allocator, so a linearization exists.
 * Two agents per pod (as an old and a restarted one) claim and release; the leader expires leases.
 * A tenth of the answers are lost, and half of those ops never reach the allocator.
 */
function correctAllocationHistory(seed: number, podCount: number, opCount: number): AllocationOperation[] {
  const random = seededRandom(seed);
  const allocator = new ReferenceAllocator(Array.from({ length: (podCount * 3) / 2 }, (_, i) => `k${i}`));
  const newClient = (id: string, podName: string | null, count: number): Client => ({ id, podName, count, busy: false, leaseId: null, retry: null });
  const clients = Array.from({ length: podCount }, (_, i) => [`validator-${i}`, 1 + (i % 3)] as const)
    .flatMap(([podName, count]) => [newClient(`${podName}/a`, podName, count), newClient(`${podName}/b`, podName, count)])
    .concat(newClient('leader', null, 0));
  let requests = 0;

  const nextInput = (client: Client): AllocationInput | null => {
    if (client.podName === null) {
      // The leader expires a lease it sees now, which may be gone by the time the expiry applies.
      if (allocator.leases.size === 0) return null;
      const [podName, { leaseId }] = pick(random, [...allocator.leases]);
      return { kind: 'expire', podName, leaseId };
    }
    if (client.retry !== null) return client.retry;
    if (client.leaseId === null || random() < 0.6) {
      // Now and then another key count, which a holder is refused.
      return { kind: 'claim', podName: client.podName, count: random() < 0.05 ? client.count + 1 : client.count };
    }
    return { kind: 'release', podName: client.podName, leaseId: client.leaseId, requestId: `request-${++requests}` };
  };

  const answer = ({ op, client, output }: InFlight) => {
    client.busy = false;
    const lost = op.return === null;
    if (!lost) op.output = output;
    if (op.input.kind === 'claim') client.leaseId = !lost && output?.ok && 'leaseId' in output ? output.leaseId : null;
    if (op.input.kind === 'release') {
      client.leaseId = null;
      client.retry = lost ? op.input : null;
    }
  };

  const history: AllocationOperation[] = [];
  let inFlight: InFlight[] = [];
  for (let now = 0; history.length < opCount || inFlight.length > 0; now++) {
    for (const flight of inFlight) if (flight.effectAt === now) flight.output = allocator.apply(flight.op.input);
    for (const flight of inFlight) if (flight.answerAt === now) answer(flight);
    inFlight = inFlight.filter((flight) => flight.answerAt > now);
    for (const client of clients) {
      if (client.busy || history.length >= opCount || random() > 0.3) continue;
      const input = nextInput(client);
      if (input === null) continue;
      const effectAt = now + intBetween(random, 1, 4);
      const answerAt = effectAt + intBetween(random, 1, 4);
      const lost = random() < 0.1;
      const op: AllocationOperation = { clientId: client.id, input, call: now, return: lost ? null : answerAt, output: null };
      history.push(op);
      inFlight.push({ op, client, effectAt: lost && random() < 0.5 ? null : effectAt, answerAt, output: null });
      client.busy = true;
    }
  }
  return history;
}

test('allocation: 10,000 ops across 50 pods from a correct allocator check as linearizable, with no shared keys', () => {
  const history = correctAllocationHistory(7, 50, 10_000);
  const started = performance.now();
  const { result, info } = checkLinearizable(allocationModel, history, { timeoutMs: 60_000 });
  const elapsed = performance.now() - started;
  const lost = history.filter((o) => o.return === null).length;
  const refusals = history.filter((o) => o.output?.ok === false).length;
  console.log(`  ${history.length} ops (${lost} lost, ${refusals} refused) across 50 pods: ${result} in ${elapsed.toFixed(0)} ms`);
  assert.is(result, 'ok', info);
  assert.equal(checkNoSharedKeys(history), []);
});

test.run();
