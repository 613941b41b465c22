import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger } from '../../shared/log/logger.js';
import { WarningLimiter } from '../../shared/log/warning-limiter.js';

/** A clock the test moves by hand: the limiter measures intervals on it. */
function manualClock() {
  let nowMs = 0;
  return { monotonicMs: () => nowMs, wallMs: () => 1_700_000_000_000 + nowMs, advance: (ms: number) => (nowMs += ms) };
}

test('a warning repeated every round is written once per cause per minute, carrying how often it happened', () => {
  const lines: Array<Record<string, unknown>> = [];
  const clock = manualClock();
  const limiter = new WarningLimiter(createLogger({ level: 'info', component: 'test', sink: (line) => lines.push(JSON.parse(line)) }), clock);
  // Two rounds a second for three minutes, as the deposit loop runs against an empty wallet; a second cause beside it.
  for (let round = 0; round < 360; round++) {
    limiter.warn('round:DEPOSIT_INSUFFICIENT_FUNDS', 'deposit round failed; will retry', { pool: 'default' });
    if (round % 2 === 0) limiter.warn('broadcast:DEPOSIT_RPC', 'deposit transaction not confirmed yet');
    clock.advance(500);
  }
  const funds = lines.filter((l) => l['cause'] === 'round:DEPOSIT_INSUFFICIENT_FUNDS');
  const rpc = lines.filter((l) => l['cause'] === 'broadcast:DEPOSIT_RPC');
  assert.is(funds.length, 3, 'one line a minute over three minutes');
  assert.is(rpc.length, 3, 'each cause has its own minute');
  assert.is(funds[0]!['repeated'], undefined, 'the first occurrence is written at once, as it is');
  assert.equal(funds.slice(1).map((l) => l['repeated']), [120, 120], 'each later line counts the occurrences of its minute');
  assert.equal(rpc.slice(1).map((l) => l['repeated']), [60, 60]);
  assert.is(funds[0]!['pool'], 'default', 'the fields of the warning are kept');
  assert.is(funds[0]!['level'], 'warn');
});

test.run();
