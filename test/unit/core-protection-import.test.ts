import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyCommand } from '../../coordinator/core/index.js';
import { accepted, applied, derivedKey, MAINNET_GVR, pubKeyAt, refused, stateWithPool } from '../support/core-state.js';

const marks = (slot: string | null, source: string | null, target: string | null) => ({ maxBlockSlot: slot, maxSourceEpoch: source, maxTargetEpoch: target });

function poolWithKeys() {
  const state = stateWithPool();
  accepted(applyCommand(state, { type: 'ImportKeys', nowMs: 2_000, pool: 'default', keys: [{ ...derivedKey(0), protection: marks('100', '7', '8') }, derivedKey(1)] }));
  return state;
}

test('imported protection raises watermarks and never lowers one; the outcome reports each key before and after', () => {
  const state = poolWithKeys();
  const outcome = applied(state, {
    type: 'ImportProtection',
    nowMs: 3_000,
    pool: 'default',
    genesisValidatorsRoot: MAINNET_GVR,
    protection: { [pubKeyAt(0)]: marks('90', '9', '10'), [pubKeyAt(1)]: marks('5', null, null) },
  });
  assert.equal(outcome.keys, [
    { pubKey: pubKeyAt(0), before: marks('100', '7', '8'), after: marks('100', '9', '10'), raised: true, wasForeign: false },
    { pubKey: pubKeyAt(1), before: null, after: marks('5', null, null), raised: true, wasForeign: false },
  ]);
  const again = applied(state, { type: 'ImportProtection', nowMs: 3_100, pool: 'default', genesisValidatorsRoot: MAINNET_GVR, protection: { [pubKeyAt(0)]: marks('1', '1', '2') } });
  assert.is(again.keys[0]!.raised, false, 'lower watermarks change nothing');
  assert.equal(state.keys.get(pubKeyAt(0))!.protection, marks('100', '9', '10'));
});

test('protection naming keys outside the pool, of another network or malformed is refused whole, naming the keys', () => {
  const state = poolWithKeys();
  const message = refused(state, {
    type: 'ImportProtection',
    nowMs: 3_000,
    pool: 'default',
    genesisValidatorsRoot: MAINNET_GVR,
    protection: { [pubKeyAt(0)]: marks('500', null, null), [pubKeyAt(7)]: marks('1', null, null), [pubKeyAt(8)]: marks('1', null, null) },
  }, 'KEY_NOT_FOUND');
  assert.match(message, new RegExp(`${pubKeyAt(7)}, ${pubKeyAt(8)}`));
  assert.match(refused(state, { type: 'ImportProtection', nowMs: 3_000, pool: 'default', genesisValidatorsRoot: '0x' + '11'.repeat(32), protection: { [pubKeyAt(0)]: marks('500', null, null) } }, 'INVALID_INTERCHANGE'), /another network/);
  refused(state, { type: 'ImportProtection', nowMs: 3_000, pool: 'default', genesisValidatorsRoot: MAINNET_GVR, protection: { [pubKeyAt(0)]: marks('-1', null, null) } }, 'INVALID_INTERCHANGE');
  refused(state, { type: 'ImportProtection', nowMs: 3_000, pool: 'default', genesisValidatorsRoot: MAINNET_GVR, protection: {} }, 'INVALID_ARGUMENT');
});

test('protection imported for a foreign key lets it be handed out', () => {
  const state = stateWithPool();
  accepted(applyCommand(state, { type: 'RestoreKeys', nowMs: 2_000, pool: 'default', fromIndex: 0, nextDerivationIndex: 1, keys: [{ key: derivedKey(0), sighting: { depositTxHash: null, depositBlockNumber: null, withdrawalCredentials: null, beaconStatus: 'active_ongoing' } }] }));
  const outcome = applied(state, { type: 'ImportProtection', nowMs: 3_000, pool: 'default', genesisValidatorsRoot: MAINNET_GVR, protection: { [pubKeyAt(0)]: marks('42', '3', '4') } });
  assert.is(outcome.keys[0]!.wasForeign, true);
  const claim = applied(state, { type: 'Claim', nowMs: 3_100, podName: 'validator-0', pool: 'default', count: 1, derivedKeys: [] });
  assert.equal(claim.lease.pubKeys, [pubKeyAt(0)]);
  assert.equal(claim.keys[0]!.protection, marks('42', '3', '4'), 'and it goes out with the imported protection');
});

test.run();
