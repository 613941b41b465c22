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
