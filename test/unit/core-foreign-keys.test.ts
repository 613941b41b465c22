import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyCommand, planClaim, restoreSnapshot, stateHash, takeSnapshot, type ChainSighting, type ClaimOutcome } from '../../coordinator/core/index.js';
import { accepted, derivedKey, pubKeyAt, refused, stateWithPool } from '../support/core-state.js';

const sighting = (block: number): ChainSighting => ({ depositTxHash: '0x' + block.toString(16).padStart(64, 'a'), depositBlockNumber: block, withdrawalCredentials: '0x01' + '00'.repeat(11) + 'ab'.repeat(20), beaconStatus: null });
const active: ChainSighting = { depositTxHash: null, depositBlockNumber: null, withdrawalCredentials: null, beaconStatus: 'active_ongoing' };

test('a restore adds the keys found on chain as foreign, moves derivation past them, and claims derive beyond them', () => {
  const state = stateWithPool();
  const restored = accepted(applyCommand(state, { type: 'RestoreKeys', nowMs: 2_000, pool: 'default', fromIndex: 0, nextDerivationIndex: 4, keys: [{ key: derivedKey(0), sighting: sighting(10) }, { key: derivedKey(3), sighting: active }] }));
  assert.equal(restored, { restored: [pubKeyAt(0), pubKeyAt(3)], nextDerivationIndex: 4 });
  const key = state.keys.get(pubKeyAt(3))!;
  assert.equal(key.foreign, { ...active, foundAtMs: 2_000 });
  assert.is(key.deposit, null, 'a pool that does not deposit records no deposit');

  const plan = accepted(planClaim(state, 'default', 'validator-0', 2, 3_000));
  assert.equal(plan, { missingKeys: 2, nextDerivationIndex: 4 }, 'foreign keys are not free: two new keys are needed, from index 4');
  const claim = (podName: string) => applyCommand(state, { type: 'Claim', nowMs: 3_000, podName, pool: 'default', count: 2, derivedKeys: [derivedKey(4), derivedKey(5)] });
  const granted = accepted(claim('validator-0')) as ClaimOutcome;
  assert.equal(granted.lease.pubKeys, [pubKeyAt(4), pubKeyAt(5)], 'nothing found on chain is handed out');
});

test('a restore from a stale index, out of order or past the pool\'s size is refused and changes nothing', () => {
  const state = stateWithPool({ maxKeys: 2 });
  accepted(applyCommand(state, { type: 'Claim', nowMs: 2_000, podName: 'validator-0', pool: 'default', count: 1, derivedKeys: [derivedKey(0)] }));
  const restore = (fromIndex: number, next: number, indices: number[]) =>
    ({ type: 'RestoreKeys', nowMs: 3_000, pool: 'default', fromIndex, nextDerivationIndex: next, keys: indices.map((i) => ({ key: derivedKey(i), sighting: sighting(i) })) }) as const;
  assert.match(refused(state, restore(0, 3, [1, 2]), 'DERIVATION_INDEX_MISMATCH'), /derives next at 1/);
  refused(state, restore(1, 4, [3, 2]), 'INVALID_ARGUMENT');
  refused(state, restore(1, 2, [2]), 'INVALID_ARGUMENT');
  assert.match(refused(state, restore(1, 5, [1, 2, 4]), 'POOL_FULL'), /--pool-max-keys/);
  refused(state, { ...restore(1, 2, [1]), keys: [{ key: derivedKey(1), sighting: { ...active, beaconStatus: null } }] }, 'INVALID_ARGUMENT');
});

test('a deposit found on chain for a key awaiting one is recorded instead of paid, and the key stays foreign until confirmed', () => {
  const state = stateWithPool({ depositMode: 'submit' });
  accepted(applyCommand(state, { type: 'AddDerivedKeys', nowMs: 2_000, pool: 'default', keys: [derivedKey(0), derivedKey(1)], reservedFor: 'validator-0' }));
  const found = sighting(7);
  accepted(applyCommand(state, { type: 'RecordFoundDeposits', nowMs: 2_500, found: [{ pubKey: pubKeyAt(0), sighting: found }] }));
  const key = state.keys.get(pubKeyAt(0))!;
  assert.is(key.deposit!.status, 'confirmed');
  assert.is(key.deposit!.rawTx, null, 'nothing of the pool\'s was signed for it');
  assert.is(key.deposit!.txHash, found.depositTxHash);
  assert.is(key.foreign!.depositBlockNumber, 7);
  refused(state, { type: 'RecordFoundDeposits', nowMs: 2_600, found: [{ pubKey: pubKeyAt(0), sighting: found }] }, 'DEPOSIT_STATE');

  // Key 1 is still awaiting its (own) deposit; key 0 is foreign: a claim waits for key 1 and does not get key 0.
  const waiting = applyCommand(state, { type: 'Claim', nowMs: 3_000, podName: 'validator-0', pool: 'default', count: 1, derivedKeys: [] });
  assert.is(waiting.ok ? 'granted' : waiting.refusal.code, 'AWAITING_DEPOSITS');

  assert.match(refused(state, { type: 'ConfirmForeignKeys', nowMs: 3_000, pool: 'default', pubKeys: [pubKeyAt(0), pubKeyAt(1), pubKeyAt(9)] }, 'KEY_NOT_FOUND'), new RegExp(pubKeyAt(9)));
  assert.match(refused(state, { type: 'ConfirmForeignKeys', nowMs: 3_000, pool: 'default', pubKeys: [pubKeyAt(1)] }, 'INVALID_ARGUMENT'), /not marked foreign/);
  accepted(applyCommand(state, { type: 'ConfirmForeignKeys', nowMs: 3_000, pool: 'default', pubKeys: [pubKeyAt(0)] }));
  const granted = accepted(applyCommand(state, { type: 'Claim', nowMs: 3_100, podName: 'validator-0', pool: 'default', count: 1, derivedKeys: [] })) as ClaimOutcome;
  assert.equal(granted.lease.pubKeys, [pubKeyAt(0)], 'confirmed by the operator, the key is handed out');
});

test('the pool\'s own committed transaction is not recorded as a foreign deposit', () => {
  const state = stateWithPool({ depositMode: 'submit' });
  accepted(applyCommand(state, { type: 'AddDerivedKeys', nowMs: 2_000, pool: 'default', keys: [derivedKey(0)] }));
  const own = sighting(5);
  accepted(applyCommand(state, { type: 'RecordDepositTransactions', nowMs: 2_100, transactions: [{ pubKey: pubKeyAt(0), txHash: own.depositTxHash!, rawTx: '0x02ab', nonce: 0 }] }));
  assert.match(refused(state, { type: 'RecordFoundDeposits', nowMs: 2_200, found: [{ pubKey: pubKeyAt(0), sighting: own }] }, 'DEPOSIT_STATE'), /confirm it instead/);
});

test('foreign marks survive a snapshot, and replicas that apply the same commands agree', () => {
  const build = () => {
    const state = stateWithPool({ depositMode: 'submit' });
    accepted(applyCommand(state, { type: 'RestoreKeys', nowMs: 2_000, pool: 'default', fromIndex: 0, nextDerivationIndex: 2, keys: [{ key: derivedKey(1), sighting: sighting(3) }] }));
    return state;
  };
  const [a, b] = [build(), build()];
  assert.is(stateHash(a), stateHash(b));
  const copy = restoreSnapshot(JSON.parse(JSON.stringify(takeSnapshot(a))));
  assert.is(stateHash(copy), stateHash(a));
  assert.is(copy.keys.get(pubKeyAt(1))!.foreign!.depositBlockNumber, 3);
  assert.is(copy.keys.get(pubKeyAt(1))!.deposit!.status, 'confirmed', 'a pool that deposits never pays for a restored key');
});

test.run();
