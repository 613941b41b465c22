import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventLoopPressure } from '../../coordinator/load/event-loop-pressure.js';

/** Holds the event loop as a CPU-starved process would see it: timers fire late. */
function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

const nextChange = (changes: boolean[], count: number) =>
  new Promise<void>((resolve) => {
    const check = () => (changes.length >= count ? resolve() : setTimeout(check, 10));
    check();
  });

test('a stalled event loop is pressure, background work is shed and counted by kind, and pressure ends once the loop runs freely', async () => {
  const changes: boolean[] = [];
  const pressure = new EventLoopPressure(30, 200, (under) => changes.push(under));
  try {
    assert.is(pressure.shouldShed('derivation'), false, 'no pressure on an idle loop');
    // Stalls of 80 ms, well past the 30 ms threshold, until the monitor notices.
    const stall = setInterval(() => blockFor(80), 100);
    await nextChange(changes, 1);
    clearInterval(stall);
    assert.is(changes[0], true);
    assert.ok(pressure.delayP99Ms > 30, `p99 delay ${pressure.delayP99Ms} ms`);
    assert.is(pressure.shouldShed('derivation'), true);
    assert.is(pressure.shouldShed('pages'), true);
    assert.is(pressure.shouldShed('pages'), true);
    assert.equal([...pressure.shed], [['derivation', 1], ['pages', 2]]);
    await nextChange(changes, 2);
    assert.is(changes[1], false);
    assert.is(pressure.shouldShed('derivation'), false);
  } finally {
    pressure.close();
  }
});

test('a threshold that is not positive is refused', () => {
  assert.throws(() => new EventLoopPressure(0, 100), /positive threshold/);
});

test.run();
