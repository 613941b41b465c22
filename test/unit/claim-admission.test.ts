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
    assert.match((error as Error).message, /2 claims already.*retry/);
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

test.run();
