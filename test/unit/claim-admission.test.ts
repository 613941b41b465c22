import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ClaimAdmission, ClaimsBusyError } from '../../coordinator/allocation/claim-admission.js';

test('past its bound a claim is refused unstarted; a finished claim makes room; the bound is asked each time', async () => {
  let limit = 2;
  const admission = new ClaimAdmission(() => limit);
  const finish: Array<() => void> = [];
  const started: number[] = [];
  const claim = (n: number) => admission.run(() => new Promise<number>((resolve) => (started.push(n), finish.push(() => resolve(n)))));
  const first = claim(1);
  const second = claim(2);
  try {
    await claim(3);
    assert.unreachable('a third claim was admitted');
  } catch (error) {
    assert.instance(error, ClaimsBusyError);
    assert.is((error as ClaimsBusyError).code, 'COORDINATOR_BUSY');
    assert.match((error as Error).message, /2 keys already.*retry/);
  }
  assert.equal(started, [1, 2], 'the refused claim never started');
  finish.shift()!();
  assert.is(await first, 1);
  const fourth = claim(4);
  assert.equal(started, [1, 2, 4]);
  limit = 1;
  try {
    await claim(5);
    assert.unreachable('a lowered bound admitted a claim');
  } catch (error) {
    assert.instance(error, ClaimsBusyError);
  }
  for (const done of finish.splice(0)) done();
  assert.equal(await Promise.all([second, fourth]), [2, 4]);
});

test('past its bound a claim waits for a place, first come first served, and is refused once its wait is over', async () => {
  const admission = new ClaimAdmission(() => 1, () => 200, 2);
  const finish: Array<() => void> = [];
  const started: number[] = [];
  const claim = (n: number) => admission.run(() => new Promise<number>((resolve) => (started.push(n), finish.push(() => resolve(n)))));
  const first = claim(1);
  const second = claim(2);
  const third = claim(3);
  await assert_refused(claim(4), 'a claim past the waiting room is refused at once');
  assert.equal(started, [1], 'the others wait unstarted');
  finish.shift()!();
  assert.is(await first, 1);
  await waitFor(() => started.length === 2);
  assert.equal(started, [1, 2], 'the first in line got the place');
  // Nothing finishes now: the third waits out its time and is refused, never started.
  await assert_refused(third, 'a claim that waited its time is refused');
  assert.equal(started, [1, 2]);
  finish.shift()!();
  assert.is(await second, 2);
});

test('a claim weighs the keys it asks for; one heavier than the whole bound runs alone', async () => {
  const admission = new ClaimAdmission(() => 10, () => 1000);
  const finish = new Map<string, () => void>();
  const started: string[] = [];
  const claim = (name: string, keys: number) => admission.run(() => new Promise<string>((resolve) => (started.push(name), finish.set(name, () => resolve(name)))), keys);
  const six = claim('six', 6);
  const five = claim('five', 5);
  const one = claim('one', 1);
  assert.equal(started, ['six'], 'five keys do not fit beside six, and the one-key claim waits its turn behind them');
  finish.get('six')!();
  await six;
  await waitFor(() => started.length === 3);
  assert.equal(started, ['six', 'five', 'one']);
  const huge = claim('huge', 50);
  finish.get('five')!();
  finish.get('one')!();
  await Promise.all([five, one]);
  await waitFor(() => started.length === 4);
  assert.equal(started.at(-1), 'huge', 'alone, once nothing else is in flight');
  finish.get('huge')!();
  assert.is(await huge, 'huge');
});

test('a claim that would wait past its time is refused at once, told when to come back: after the line, one after another at the rate claims finish', async () => {
  let nowMs = 0;
  const admission = new ClaimAdmission(() => 10, () => 1000, 10_000, () => nowMs);
  // Before anything finished the rate is unknown: a refusal names the wait allowed.
  let release!: () => void;
  const holding = admission.run(() => new Promise<void>((resolve) => (release = resolve)), 10);
  const waiting = admission.run(async () => {}, 100);
  nowMs = 1001;
  const early = await refusalOf(waiting);
  assert.is(early.retryAfterMs, 1000, 'before any claim finished, it waited its time and was refused naming the wait allowed');
  release();
  await holding;
  // While a line waits, a claim of 10 keys finishes every 100 ms: 0.1 key a millisecond.
  nowMs = 0;
  let maxWaitMs = 60_000;
  const measured = new ClaimAdmission(() => 10, () => maxWaitMs, 10_000, () => nowMs);
  const finish: Array<() => void> = [];
  const started: number[] = [];
  const claim = (n: number) => measured.run(() => new Promise<number>((resolve) => (started.push(n), finish.push(() => resolve(n)))), 10);
  const first = Array.from({ length: 26 }, (_, i) => claim(-26 + i));
  for (let i = 0; i < 25; i++) {
    nowMs += 100;
    finish.shift()!();
    await waitFor(() => finish.length === 1);
  }
  assert.is(started.length, 26);
  started.length = 0;
  maxWaitMs = 1000;
  // Ten waiting claims are 1000 ms of work at that rate, the second allowed; an eleventh would wait longer.
  const line = Array.from({ length: 10 }, (_, i) => claim(i + 1));
  assert.equal(started, []);
  const refused = [await refusalOf(claim(11)), await refusalOf(claim(12)), await refusalOf(claim(13))];
  assert.equal(started, [], 'refused claims never started');
  // The line (100 keys) and the claim in flight (10) take 1100 ms; each refused one is promised the next 100 ms.
  assert.equal(refused.map((e) => e.retryAfterMs), [1100, 1200, 1300]);
  assert.match(refused[0]!.message, /retry the claim in about 2 s/);
  for (let i = 0; i <= 10; i++) {
    finish.shift()!();
    if (i < 10) await waitFor(() => started.length === i + 1);
  }
  await Promise.all(first);
  assert.equal(await Promise.all(line), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'the line was served in order');
});

async function refusalOf(claim: Promise<unknown>): Promise<ClaimsBusyError> {
  try {
    await claim;
  } catch (error) {
    assert.instance(error, ClaimsBusyError);
    return error as ClaimsBusyError;
  }
  assert.unreachable('the claim was admitted');
  throw new Error('unreachable');
}

async function assert_refused(claim: Promise<unknown>, what: string): Promise<void> {
  try {
    await claim;
    assert.unreachable(what);
  } catch (error) {
    assert.instance(error, ClaimsBusyError, what);
  }
}

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

test.run();
