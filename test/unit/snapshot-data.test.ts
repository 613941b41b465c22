import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PartedText, partsOf } from '../../coordinator/raft/snapshot-data.js';
import { snapshotChunk, SnapshotAssembler } from '../../coordinator/raft/snapshot-transfer.js';
import { createEmptyState, restoreSnapshotText, SnapshotError, snapshotText, stateHash, takeSnapshot } from '../../coordinator/core/index.js';

const text = 'the quick brown fox jumps over the lazy dog';
const cuts = [['the ', '', 'quick brown', ' fox jumps', ' over the lazy dog'], [text], text.split('')];

test('a parted text slices exactly as the joined string would, across part boundaries', () => {
  for (const parts of cuts) {
    const parted = new PartedText(parts);
    assert.is(parted.length, text.length);
    for (let start = 0; start <= text.length; start++) {
      for (let end = start; end <= text.length + 2; end += 3) assert.is(parted.slice(start, end), text.slice(start, end), `${JSON.stringify(parts)} [${start}, ${end})`);
    }
    assert.equal([...partsOf(parted)], parts);
  }
});

test('a snapshot sent in chunks arrives as the same text, kept in the chunks received', () => {
  const sent = new PartedText(cuts[0]!);
  const meta = { index: 7, term: 2, confState: { voters: ['r1'], learners: [] } };
  const assembler = new SnapshotAssembler();
  let received: ReturnType<SnapshotAssembler['add']> = { received: 0, snapshot: null };
  for (let offset = 0; received.snapshot === null; offset = received.received) {
    const { data, done } = snapshotChunk({ meta, data: sent }, offset, 5);
    received = assembler.add({ type: 'snapshotChunk', from: 'r1', to: 'r2', term: 2, meta, offset, data, done });
  }
  assert.is([...partsOf(received.snapshot!.data)].join(''), text);
  assert.ok([...partsOf(received.snapshot!.data)].length > 1, 'not joined into one string');
});

test('a state restores from its snapshot text, and from the older single-JSON form', () => {
  const state = createEmptyState();
  state.leaseSequence = 3;
  state.pools.set('default', { name: 'default', nextDerivationIndex: 2 } as never);
  state.leases.set('pod-a', { leaseId: 'lease-1', podName: 'pod-a', podUid: null, pool: 'default', pubKeys: ['0xaa'], ttlMs: 1000, grantedAtMs: 5, signingMode: 'signer' });
  const fromText = restoreSnapshotText(snapshotText(takeSnapshot(state), 1));
  assert.is(stateHash(fromText), stateHash(state));
  const legacy = JSON.stringify(takeSnapshot(state));
  assert.is(stateHash(restoreSnapshotText([legacy.slice(0, 10), legacy.slice(10)])), stateHash(state));
});

test('a snapshot text that lost records is refused, not restored short', () => {
  const state = createEmptyState();
  state.leases.set('pod-a', { leaseId: 'lease-1', podName: 'pod-a', podUid: null, pool: 'default', pubKeys: [], ttlMs: 1000, grantedAtMs: 5, signingMode: 'signer' });
  const whole = [...snapshotText(takeSnapshot(state))].join('');
  const headerOnly = whole.slice(0, whole.indexOf('\n') + 1);
  assert.throws(() => restoreSnapshotText([headerOnly]), (error: unknown) => error instanceof SnapshotError && /holds 0 records, its header says 1/.test(error.message));
});

test.run();
