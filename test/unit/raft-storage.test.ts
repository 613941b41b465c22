import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ClassicLevel } from 'classic-level';
import { RaftStorage } from '../../coordinator/replication/raft/raft-storage.js';
import { StorageError } from '../../coordinator/replication/errors.js';
import type { Entry, Snapshot } from '../../coordinator/raft/types.js';
import { partsOf } from '../../coordinator/raft/snapshot-data.js';
import { silentLogger } from '../../shared/log/logger.js';
import { tempDir } from '../support/temp-dir.js';

const entry = (index: number, term: number, data = `cmd-${index}`): Entry => ({ index, term, type: 'normal', data });
const noReady = { snapshot: null, entries: [] as Entry[], hardState: null };

async function openError(directory: string, replicaId = 'r1'): Promise<StorageError> {
  try {
    const { storage } = await RaftStorage.open(directory, replicaId, silentLogger);
    await storage.close();
  } catch (error) {
    assert.instance(error, StorageError);
    return error as StorageError;
  }
  throw new Error('opened damaged storage');
}

/** Rewrites one stored value behind the storage's back, as disk damage would. */
async function tamper(directory: string, key: string, change: (value: string) => string): Promise<void> {
  const db = new ClassicLevel<string, string>(directory, { valueEncoding: 'utf8' });
  await db.open();
  await db.put(key, change((await db.get(key))!), { sync: true });
  await db.close();
}

test('hard state, entries (with a truncated conflicting suffix) and snapshots survive a reopen', async () => {
  const dir = await tempDir('raft-storage');
  try {
    let { storage, recovered } = await RaftStorage.open(dir.path, 'r1', silentLogger);
    assert.equal(recovered, { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] });
    await storage.persist({ ...noReady, entries: [entry(1, 1), entry(2, 1), entry(3, 1)], hardState: { term: 1, vote: 'r1', commit: 1 } });
    // A new leader overwrites 3.. with its own entries: the old suffix must be gone.
    await storage.persist({ ...noReady, entries: [entry(3, 2, 'new-3'), entry(4, 2)], hardState: { term: 2, vote: 'r2', commit: 2 } });
    await storage.close();
    ({ storage, recovered } = await RaftStorage.open(dir.path, 'r1', silentLogger));
    assert.equal(recovered.hardState, { term: 2, vote: 'r2', commit: 2 });
    assert.equal(recovered.entries, [entry(1, 1), entry(2, 1), entry(3, 2, 'new-3'), entry(4, 2)]);

    // A snapshot is stored in parts, switched to once they are all written; the text comes back in the same parts.
    const parts = ['{"state":', '1', '}'];
    const meta = { index: 3, term: 2, confState: { voters: ['r1', 'r2', 'r3'], learners: [] } };
    await storage.writeSnapshotParts(3, parts);
    await storage.compact(meta, parts.length);
    await storage.persist({ ...noReady, entries: [entry(5, 2)] });
    await storage.close();
    ({ storage, recovered } = await RaftStorage.open(dir.path, 'r1', silentLogger));
    assert.equal(recovered.snapshot?.meta, meta);
    assert.equal([...partsOf(recovered.snapshot!.data)], parts);
    assert.equal(recovered.entries, [entry(4, 2), entry(5, 2)], 'entries covered by the snapshot are dropped');

    // A snapshot received from a leader replaces the whole log.
    const received: Snapshot = { meta: { index: 10, term: 3, confState: { voters: ['r1', 'r2', 'r3'], learners: [] } }, data: '{"state":2}' };
    await storage.persist({ snapshot: received, entries: [entry(11, 3)], hardState: { term: 3, vote: null, commit: 11 } });
    await storage.close();
    ({ storage, recovered } = await RaftStorage.open(dir.path, 'r1', silentLogger));
    assert.equal(recovered.snapshot?.meta, received.meta);
    assert.is([...partsOf(recovered.snapshot!.data)].join(''), received.data, 'the received snapshot, with the parts of the one before gone');
    assert.equal(recovered.entries, [entry(11, 3)]);
    await storage.close();
  } finally {
    await dir.cleanup();
  }
});

test('a torn last record is dropped; damage anywhere else refuses to start with a clear message', async () => {
  const dir = await tempDir('raft-torn');
  try {
    const { storage } = await RaftStorage.open(dir.path, 'r1', silentLogger);
    await storage.persist({ ...noReady, entries: [entry(1, 1), entry(2, 1), entry(3, 1)], hardState: { term: 1, vote: 'r1', commit: 3 } });
    await storage.close();

    await tamper(dir.path, 'entry:0000000000000003', (v) => v.slice(0, v.length / 2));
    const reopened = await RaftStorage.open(dir.path, 'r1', silentLogger);
    assert.equal(reopened.recovered.entries.map((e) => e.index), [1, 2], 'the torn last entry is gone');
    assert.is(reopened.recovered.hardState.commit, 2, 'commit is lowered to what survived');
    await reopened.storage.close();

    await tamper(dir.path, 'entry:0000000000000001', (v) => v.replace('cmd-1', 'cmd-X'));
    const damaged = await openError(dir.path);
    assert.is(damaged.code, 'STORAGE_CORRUPT');
    assert.match(damaged.message, /damaged.*restore the data directory from a backup or rebuild this replica/);
  } finally {
    await dir.cleanup();
  }
});

test('another replica\'s data directory is refused', async () => {
  const dir = await tempDir('raft-owner');
  try {
    const { storage } = await RaftStorage.open(dir.path, 'r1', silentLogger);
    await storage.close();
    const error = await openError(dir.path, 'r2');
    assert.match(error.message, /belongs to replica "r1", not "r2"/);
  } finally {
    await dir.cleanup();
  }
});

test('durable entries are read back synchronously, as Raft does once it dropped them from memory; what is not durable is an error', async () => {
  const dir = await tempDir('raft-storage');
  try {
    const { storage } = await RaftStorage.open(dir.path, 'r1', silentLogger);
    await storage.persist({ ...noReady, entries: [entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2)], hardState: { term: 2, vote: 'r1', commit: 4 } });
    assert.equal(storage.readEntries(2, 4), [entry(2, 1), entry(3, 2), entry(4, 2)]);
    await storage.writeSnapshotParts(2, ['{}']);
    await storage.compact({ index: 2, term: 1, confState: { voters: ['r1'], learners: [] } }, 1);
    assert.equal(storage.readEntries(3, 3), [entry(3, 2)]);
    for (const [from, through] of [[2, 3], [4, 5]] as const) {
      assert.throws(() => storage.readEntries(from, through), (e: unknown) => e instanceof StorageError && e.message.includes('durable log holds 3..4'));
    }
    await storage.close();
  } finally {
    await dir.cleanup();
  }
});

test.run();
