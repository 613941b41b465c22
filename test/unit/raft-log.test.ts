import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RaftLog } from '../../coordinator/raft/log.js';
import { RaftInvariantError, type Entry } from '../../coordinator/raft/types.js';

const entry = (index: number, term: number, data = `${index}/${term}`): Entry => ({ index, term, type: 'normal', data });
const terms = (log: RaftLog) => Array.from({ length: log.lastIndex() - log.firstIndex() + 1 }, (_, k) => log.term(log.firstIndex() + k));

test('a conflicting suffix is truncated and replaced; the replacement must be persisted again', () => {
  const log = new RaftLog(0, 0, [entry(1, 1), entry(2, 1), entry(3, 1), entry(4, 1)], 1);
  const result = log.maybeAppend(2, 1, 3, [entry(3, 2)]);
  assert.equal(result, { lastNewIndex: 3, writtenFrom: 3 });
  assert.equal(terms(log), [1, 1, 2]);
  assert.is(log.committed, 3);
  assert.is(log.lastStableIndex(), 2);
  assert.equal(log.unstableEntries(), [entry(3, 2)]);
});

test('a stale or duplicated append never truncates entries that a later append added', () => {
  const log = new RaftLog(0, 0, [entry(1, 1), entry(2, 1), entry(3, 1)], 0);
  assert.equal(log.maybeAppend(0, 0, 0, [entry(1, 1)]), { lastNewIndex: 1, writtenFrom: null });
  assert.is(log.lastIndex(), 3);
  assert.is(log.committed, 0, 'commit is capped by what this append proved to match');
});

test('an append whose previous entry does not match is refused', () => {
  const log = new RaftLog(0, 0, [entry(1, 1), entry(2, 1)], 0);
  assert.is(log.maybeAppend(2, 2, 0, [entry(3, 2)]), null);
  assert.is(log.maybeAppend(5, 1, 0, []), null);
});

test('overwriting a committed entry is a broken invariant, not a silent change', () => {
  const log = new RaftLog(0, 0, [entry(1, 1), entry(2, 1)], 2);
  assert.throws(() => log.maybeAppend(1, 1, 2, [entry(2, 2)]), (e: unknown) => e instanceof RaftInvariantError);
});

test('findConflictByTerm skips to the last entry of a term not above the probe term', () => {
  const log = new RaftLog(0, 0, [entry(1, 1), entry(2, 1), entry(3, 3), entry(4, 3), entry(5, 5)], 0);
  assert.equal(log.findConflictByTerm(5, 4), { index: 4, term: 3 });
  assert.equal(log.findConflictByTerm(5, 2), { index: 2, term: 1 });
  assert.equal(log.findConflictByTerm(9, 5), { index: 5, term: 5 });
  const compacted = new RaftLog(3, 3, [entry(4, 4)], 3);
  assert.equal(compacted.findConflictByTerm(4, 2), { index: 2, term: 0 }, 'below the snapshot the term is unknown');
});

test('stableTo ignores an acknowledgement for entries that were replaced meanwhile', () => {
  const log = new RaftLog(0, 0, [entry(1, 1)], 0);
  log.append([entry(2, 1), entry(3, 1)]);
  const written = log.unstableEntries();
  log.maybeAppend(1, 1, 0, [entry(2, 2)]);
  log.stableTo(written.at(-1)!.index, written.at(-1)!.term);
  assert.is(log.lastStableIndex(), 1);
  log.stableTo(2, 2);
  assert.is(log.lastStableIndex(), 2);
});

test('compaction keeps the term of the compaction point for the consistency check', () => {
  const log = new RaftLog(0, 0, [entry(1, 1), entry(2, 2), entry(3, 2)], 3);
  log.compact(2);
  assert.is(log.firstIndex(), 3);
  assert.is(log.term(2), 2);
  assert.is(log.term(1), undefined);
  assert.is(log.entriesFrom(2, 10), null, 'entries at or below the snapshot need the snapshot');
  assert.equal(log.entriesFrom(3, 10), [entry(3, 2)]);
  assert.throws(() => new RaftLog(0, 0, [entry(1, 1)], 0).compact(1), (e: unknown) => e instanceof RaftInvariantError);
});

test('election restriction: last term first, then length', () => {
  const log = new RaftLog(0, 0, [entry(1, 1), entry(2, 2)], 0);
  assert.ok(log.isUpToDate(1, 3));
  assert.ok(log.isUpToDate(2, 2));
  assert.not.ok(log.isUpToDate(1, 2));
  assert.not.ok(log.isUpToDate(9, 1));
});

test('restoring a snapshot replaces the log and commits to its index', () => {
  const log = new RaftLog(0, 0, [entry(1, 1), entry(2, 1)], 1);
  const snapshot = { meta: { index: 10, term: 3, confState: { voters: ['a'], learners: [] } }, data: 'state' };
  log.restore(snapshot);
  assert.equal([log.firstIndex(), log.lastIndex(), log.lastTerm(), log.committed], [11, 10, 3, 10]);
  assert.is(log.pendingSnapshot(), snapshot);
  log.stableSnapshotTo(10);
  assert.is(log.pendingSnapshot(), null);
});

/** A durable log beside a RaftLog that may drop entries from memory: the entries stableTo confirmed. */
function withDisk(entries: readonly Entry[], memoryTailChars: number) {
  const disk = new Map<number, Entry>(entries.map((e) => [e.index, e]));
  const reads: Array<[number, number]> = [];
  const durable = {
    memoryTailChars,
    read: (from: number, through: number) => {
      reads.push([from, through]);
      return Array.from({ length: through - from + 1 }, (_, k) => disk.get(from + k)!);
    },
  };
  return { disk, reads, log: new RaftLog(0, 0, entries, 0, durable) };
}

test('applied durable entries beyond the tail leave memory and are read back from disk for a lagging follower', () => {
  const entries = Array.from({ length: 10 }, (_, k) => entry(k + 1, k < 4 ? 1 : 2, 'x'.repeat(36)));
  const { reads, log } = withDisk(entries, 300); // each entry counts 100: three stay in memory
  log.commitTo(10);
  log.dropApplied(10);
  assert.equal(log.entriesFrom(8, 10), entries.slice(7), 'the tail is served from memory');
  assert.equal(reads, []);
  assert.equal(log.entriesFrom(2, 4), entries.slice(1, 5), 'older entries come from the disk');
  assert.equal(log.entriesFrom(6, 4), entries.slice(5, 9), 'a read may span disk and memory');
  assert.equal(reads, [[2, 5], [6, 7]]);
  assert.equal(terms(log), [1, 1, 1, 1, 2, 2, 2, 2, 2, 2], 'terms of dropped entries stay known');
  assert.equal(log.findConflictByTerm(10, 1), { index: 4, term: 1 });
  assert.ok(log.maybeAppend(3, 1, 10, [entry(4, 1, 'x'.repeat(36)), entry(5, 2, 'x'.repeat(36))]), 'an append that matches dropped entries is accepted');
  assert.equal(log.maybeAppend(3, 2, 10, []), null, 'and one that does not is refused');
});

test('only entries that are applied, committed and durable leave memory', () => {
  const entries = Array.from({ length: 6 }, (_, k) => entry(k + 1, 1, 'x'.repeat(36)));
  const { reads, log } = withDisk(entries, 0);
  log.commitTo(4);
  log.dropApplied(2);
  log.append([entry(7, 1, 'x'.repeat(36))]);
  log.dropApplied(6);
  assert.equal(log.entriesFrom(1, 10), [...entries, entry(7, 1, 'x'.repeat(36))]);
  assert.equal(reads, [[1, 4]], 'nothing past the commit index, or not yet durable, left memory');
  assert.equal(log.unstableEntries(), [entry(7, 1, 'x'.repeat(36))]);
  assert.equal(log.entriesBetween(4, 6), entries.slice(4), 'committed entries to apply are in memory');
});

test('without a durable log nothing leaves memory', () => {
  const entries = Array.from({ length: 5 }, (_, k) => entry(k + 1, 1, 'x'.repeat(1000)));
  const log = new RaftLog(0, 0, entries, 5);
  log.dropApplied(5);
  assert.equal(log.entriesFrom(1, 10), entries);
});

test('compaction past or within the dropped entries keeps the terms and the read-back exact', () => {
  const entries = Array.from({ length: 10 }, (_, k) => entry(k + 1, k < 3 ? 1 : k < 6 ? 2 : 3, 'x'.repeat(36)));
  const { reads, log } = withDisk(entries, 200);
  log.commitTo(10);
  log.dropApplied(10);
  log.compact(4);
  assert.equal([log.firstIndex(), log.term(4), log.term(3)], [5, 2, undefined]);
  assert.equal(log.entriesFrom(4, 1), null, 'entries a snapshot covers need the snapshot');
  assert.equal(log.entriesFrom(5, 10), entries.slice(4));
  assert.equal(terms(log), [2, 2, 3, 3, 3, 3]);
  log.compact(9);
  assert.equal([log.firstIndex(), log.term(9), log.lastIndex()], [10, 3, 10]);
  assert.equal(log.entriesFrom(10, 5), [entries[9]]);
  assert.equal(reads, [[5, 8]]);
});

test('a durable log returning other entries than Raft dropped is a broken invariant', () => {
  const entries = Array.from({ length: 4 }, (_, k) => entry(k + 1, 1, 'x'.repeat(36)));
  const { disk, log } = withDisk(entries, 0);
  log.commitTo(4);
  log.dropApplied(4);
  disk.set(2, entry(2, 7));
  assert.throws(() => log.entriesFrom(1, 4), (e: unknown) => e instanceof RaftInvariantError);
});

test.run();
