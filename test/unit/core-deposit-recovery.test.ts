import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyCommand, type ClaimOutcome } from '../../coordinator/core/index.js';
import { accepted, derivedKey, pubKeyAt, refused, stateWithPool } from '../support/core-state.js';

const hash = (n: number) => '0x' + n.toString(16).padStart(64, '0');

test('a committed deposit transaction is replaced only while it is the one committed, by a higher nonce no other deposit uses', () => {
  const state = stateWithPool({ depositMode: 'submit' });
  accepted(applyCommand(state, { type: 'AddDerivedKeys', nowMs: 1_000, pool: 'default', keys: [derivedKey(0), derivedKey(1)] }));
  accepted(applyCommand(state, { type: 'RecordDepositTransactions', nowMs: 1_100, transactions: [{ pubKey: pubKeyAt(0), txHash: hash(1), rawTx: '0x01', nonce: 4 }, { pubKey: pubKeyAt(1), txHash: hash(2), rawTx: '0x02', nonce: 5 }] }));
  const replace = (replacesTxHash: string, nonce: number) => ({ type: 'ReplaceDepositTransaction', nowMs: 2_000, pubKey: pubKeyAt(0), replacesTxHash, txHash: hash(10 + nonce), rawTx: '0x0a', nonce }) as const;
  assert.match(refused(state, replace(hash(1), 5), 'INVALID_ARGUMENT'), /already committed for the deposit of/);
  refused(state, replace(hash(1), 3), 'INVALID_ARGUMENT');
  refused(state, replace(hash(9), 6), 'DEPOSIT_STATE');
  assert.equal(accepted(applyCommand(state, replace(hash(1), 6))), { pubKey: pubKeyAt(0), txHash: hash(16), nonce: 6 });
  const deposit = state.keys.get(pubKeyAt(0))!.deposit!;
  assert.equal([deposit.status, deposit.txHash, deposit.nonce, deposit.signedAtMs], ['signed', hash(16), 6, 1_100], 'still one deposit, signed when it first was (the daily cap counts it once)');
  assert.match(refused(state, replace(hash(1), 7), 'DEPOSIT_STATE'), /no longer transaction/, 'a second replacement of the old transaction (a stale leader) is refused');
});

test('keys derived for a claim wait for that pod: another pod neither takes them nor waits for them, until the reservation lapses', () => {
  const state = stateWithPool({ depositMode: 'submit', leaseTtlMs: 5_000 });
  accepted(applyCommand(state, { type: 'AddDerivedKeys', nowMs: 1_000, pool: 'default', keys: [derivedKey(0)], reservedFor: 'validator-a' }));
  const claim = (podName: string, nowMs: number) => applyCommand(state, { type: 'Claim', nowMs, podName, pool: 'default', count: 1, derivedKeys: [] });
  const codeOf = (result: ReturnType<typeof claim>) => (result.ok ? 'granted' : result.refusal.code);
  assert.is(codeOf(claim('validator-a', 1_100)), 'AWAITING_DEPOSITS');
  assert.is(codeOf(claim('validator-b', 1_100)), 'NEEDS_KEYS', 'another pod derives its own rather than wait for a key kept for validator-a');

  accepted(applyCommand(state, { type: 'RecordDepositTransactions', nowMs: 1_200, transactions: [{ pubKey: pubKeyAt(0), txHash: hash(1), rawTx: '0x01', nonce: 0 }] }));
  accepted(applyCommand(state, { type: 'ConfirmDeposits', nowMs: 2_000, confirmations: [{ pubKey: pubKeyAt(0), blockNumber: 3 }] }));
  assert.is(codeOf(claim('validator-b', 2_100)), 'NEEDS_KEYS', 'confirmed, the key is still kept for the pod that asked');
  const granted = accepted(claim('validator-a', 2_200)) as ClaimOutcome;
  assert.equal(granted.lease.pubKeys, [pubKeyAt(0)]);
  assert.is(state.keys.get(pubKeyAt(0))!.deposit!.reservedFor, null, 'claimed, the reservation ends');

  // A pod that never comes back does not keep a key for ever.
  accepted(applyCommand(state, { type: 'AddDerivedKeys', nowMs: 3_000, pool: 'default', keys: [derivedKey(1)], reservedFor: 'validator-gone' }));
  accepted(applyCommand(state, { type: 'RecordDepositTransactions', nowMs: 3_100, transactions: [{ pubKey: pubKeyAt(1), txHash: hash(2), rawTx: '0x02', nonce: 1 }] }));
  accepted(applyCommand(state, { type: 'ConfirmDeposits', nowMs: 4_000, confirmations: [{ pubKey: pubKeyAt(1), blockNumber: 4 }] }));
  assert.is(codeOf(claim('validator-c', 8_999)), 'NEEDS_KEYS');
  assert.equal((accepted(claim('validator-c', 9_000)) as ClaimOutcome).lease.pubKeys, [pubKeyAt(1)], 'a lease TTL after confirmation, anyone may take it');
});

test.run();
