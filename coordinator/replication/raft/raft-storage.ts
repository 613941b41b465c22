import { ClassicLevel } from 'classic-level';
import { PartedData, partsOf } from '../../raft/snapshot-data.js';
import type { Entry, HardState, Ready, RecoveredState, Snapshot, SnapshotMeta } from '../../raft/types.js';
import type { Logger } from '../../../shared/log/logger.js';
import { StorageError } from '../errors.js';
import { decodeRecord, decodeText, encodeRecord, encodeText } from '../record-codec.js';

export const RAFT_STORAGE_FORMAT = 'keylease-raft-v1';

const META_KEY = 'meta';
const HARD_STATE_KEY = 'hardstate';
const SNAPSHOT_KEY = 'snapshot';
const ENTRY_PREFIX = 'entry:';
const entryKey = (index: number) => ENTRY_PREFIX + String(index).padStart(16, '0');
const ENTRY_RANGE = { gt: ENTRY_PREFIX, lt: ENTRY_PREFIX + '~' } as const;
/**
 * A snapshot is stored as its parts, each a record of its own, and a small record naming how many there
 * are: a large state is never one value (nor one string in memory). Parts are keyed by the snapshot's
 * index, so a new snapshot's parts are written beside the old one's before the switch.
 */
const PART_PREFIX = 'snapshot-part:';
const partPrefix = (index: number) => `${PART_PREFIX}${String(index).padStart(16, '0')}:`;
const partKey = (index: number, k: number) => partPrefix(index) + String(k).padStart(8, '0');
/** Parts are written in synced batches of about this many characters. */
const PART_BATCH_CHARS = 8 << 20;

/** The stored snapshot record: its parts are under partPrefix(meta.index). Older stores hold `data` inline. */
interface StoredSnapshot {
  readonly meta: SnapshotMeta;
  readonly parts?: number;
  readonly data?: string;
}

type Operation = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

interface Meta {
  readonly format: string;
  readonly replicaId: string;
}

/**
 * A replica's durable Raft state in classic-level: hard state, snapshot and log entries, each record
 * checksummed. Every Ready is written as one atomic batch, so a crash leaves either all of it or none,
 * and synced: it holds something a promise depends on (entries, a snapshot, a new term or vote). A hard
 * state that only moves the commit index is not written on its own (etcd does not sync it either): a
 * lost commit index is learned again from the leader, and the state machine is rebuilt from the log.
 */
export class RaftStorage {
  private durableTerm = 0;
  private durableVote: string | null = null;
  /** The stored snapshot's parts, deleted when a newer snapshot takes its place. */
  private storedParts: { index: number; count: number } | null = null;

  private constructor(
    private readonly db: ClassicLevel<string, string>,
    /** The durable log's bounds, kept so a truncation knows which keys to delete. */
    private firstIndex: number,
    private lastIndex: number,
  ) {}

  /** The last entry the durable log holds. */
  get durableLastIndex(): number {
    return this.lastIndex;
  }

  /** Opens (or creates) the store and reads back what survived; refuses damaged or foreign data. */
  static async open(directory: string, replicaId: string, logger: Logger): Promise<{ storage: RaftStorage; recovered: RecoveredState }> {
    const db = new ClassicLevel<string, string>(directory, { valueEncoding: 'utf8' });
    try {
      await db.open();
    } catch (cause) {
      throw new StorageError('STORAGE_IO', `cannot open the Raft log in ${directory}: is another keylease using it, or is the directory unwritable?`, { cause });
    }
    try {
      await checkMeta(db, directory, replicaId);
      const recovered = await recover(db, logger);
      const first = recovered.snapshot ? recovered.snapshot.meta.index + 1 : 1;
      const last = recovered.entries.length > 0 ? recovered.entries[recovered.entries.length - 1]!.index : first - 1;
      const storage = new RaftStorage(db, first, last);
      storage.durableTerm = recovered.hardState.term;
      storage.durableVote = recovered.hardState.vote;
      storage.storedParts = recovered.snapshot ? { index: recovered.snapshot.meta.index, count: partCount(recovered.snapshot.data) } : null;
      return { storage, recovered };
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  /** Makes a Ready's snapshot, entries and hard state durable in one synced batch. */
  async persist(ready: Pick<Ready, 'snapshot' | 'entries' | 'hardState'>): Promise<void> {
    const ops: Operation[] = [];
    let first = this.firstIndex;
    let last = this.lastIndex;
    if (ready.snapshot) {
      // A received snapshot replaces the whole log.
      for (let i = first; i <= last; i++) ops.push({ type: 'del', key: entryKey(i) });
      const partLengths = await this.writeSnapshotParts(ready.snapshot.meta.index, partsOf(ready.snapshot.data));
      ops.push(...this.snapshotSwitch(ready.snapshot.meta, partLengths.length));
      first = ready.snapshot.meta.index + 1;
      last = ready.snapshot.meta.index;
    }
    if (ready.entries.length > 0) {
      const from = ready.entries[0]!.index;
      if (from < first || from > last + 1) throw new StorageError('STORAGE_CORRUPT', `Raft asked to write entries from ${from}, but the durable log holds ${first}..${last}: this is a bug; the replica stops rather than leave a gap`);
      // A conflicting suffix is truncated in the same batch as its replacement is written.
      for (let i = from; i <= last; i++) ops.push({ type: 'del', key: entryKey(i) });
      for (const entry of ready.entries) ops.push({ type: 'put', key: entryKey(entry.index), value: encodeRecord(entry) });
      last = ready.entries[ready.entries.length - 1]!.index;
    }
    const hardState = ready.hardState;
    const mustSync = ready.snapshot !== null || ready.entries.length > 0 || (hardState !== null && (hardState.term !== this.durableTerm || hardState.vote !== this.durableVote));
    // A hard state that only moves the commit index waits for the next synced write: the commit index
    // is learned again from the leader, and a write of its own would cost a disk round trip per commit.
    if (!mustSync) return;
    if (hardState) ops.push({ type: 'put', key: HARD_STATE_KEY, value: encodeRecord(hardState) });
    await this.write(ops, true);
    if (ready.snapshot) this.storedParts = { index: ready.snapshot.meta.index, count: partCount(ready.snapshot.data) };
    this.firstIndex = first;
    this.lastIndex = last;
    if (hardState) {
      this.durableTerm = hardState.term;
      this.durableVote = hardState.vote;
    }
  }

  /**
   * Durable entries [from, through], read synchronously (Raft reads back entries it dropped from memory
   * for a follower that lags): they must be in the durable log.
   */
  readEntries(from: number, through: number): Entry[] {
    if (from < this.firstIndex || through > this.lastIndex) {
      throw new StorageError('STORAGE_CORRUPT', `Raft asked to read entries ${from}..${through}, but the durable log holds ${this.firstIndex}..${this.lastIndex}: this is a bug; the replica stops`);
    }
    const entries: Entry[] = [];
    for (let index = from; index <= through; index++) {
      const key = entryKey(index);
      const stored = this.db.getSync(key);
      if (stored === undefined) throw new StorageError('STORAGE_CORRUPT', `Raft log entry ${index} is missing from the store: restore this replica's data directory or replace the replica`);
      entries.push(decodeRecord<Entry>(stored, key));
    }
    return entries;
  }

  /**
   * Writes the parts of a snapshot at `index` (synced, in several batches: nothing refers to them until
   * compact or persist switches to the snapshot), and returns their lengths. May run while other writes
   * go on; parts are taken from `parts` one at a time.
   */
  async writeSnapshotParts(index: number, parts: Iterable<string> | AsyncIterable<string>): Promise<number[]> {
    const lengths: number[] = [];
    let ops: Operation[] = [];
    let chars = 0;
    for await (const part of parts) {
      ops.push({ type: 'put', key: partKey(index, lengths.length), value: encodeText(part) });
      lengths.push(part.length);
      chars += part.length;
      if (chars >= PART_BATCH_CHARS) {
        await this.write(ops, true);
        ops = [];
        chars = 0;
      }
    }
    if (ops.length > 0) await this.write(ops, true);
    return lengths;
  }

  /** Deletes the parts of a snapshot that was written but never switched to (a newer one came first). */
  async dropSnapshotParts(index: number, partCount: number): Promise<void> {
    if (this.storedParts?.index === index) return;
    const ops: Operation[] = [];
    for (let k = 0; k < partCount; k++) ops.push({ type: 'del', key: partKey(index, k) });
    await this.write(ops, false);
  }

  /**
   * The snapshot at `index` as stored, read a part at a time when it is sliced (sent to a follower) or
   * restored: it takes no memory while it waits. Valid while it is the stored snapshot: Raft moves a
   * transfer on to the newest snapshot, so an older one is not read after its parts are gone.
   */
  storedSnapshotData(index: number, partLengths: readonly number[]): PartedData {
    return new StoredSnapshotText(this.db, index, partLengths);
  }

  /**
   * Switches to the application's snapshot at `meta.index`, whose parts writeSnapshotParts wrote, and
   * drops the entries it covers and the previous snapshot's parts.
   */
  async compact(meta: SnapshotMeta, partCount: number): Promise<void> {
    const upTo = Math.min(meta.index, this.lastIndex);
    const ops = this.snapshotSwitch(meta, partCount);
    for (let i = this.firstIndex; i <= upTo; i++) ops.push({ type: 'del', key: entryKey(i) });
    await this.write(ops, true);
    this.storedParts = { index: meta.index, count: partCount };
    this.firstIndex = Math.max(this.firstIndex, meta.index + 1);
    this.lastIndex = Math.max(this.lastIndex, meta.index);
  }

  /** The record that makes the snapshot at `meta.index` the stored one, and the deletion of the one before. */
  private snapshotSwitch(meta: SnapshotMeta, partCount: number): Operation[] {
    const ops: Operation[] = [{ type: 'put', key: SNAPSHOT_KEY, value: encodeRecord({ meta, parts: partCount } satisfies StoredSnapshot) }];
    const previous = this.storedParts;
    if (previous && previous.index !== meta.index) for (let k = 0; k < previous.count; k++) ops.push({ type: 'del', key: partKey(previous.index, k) });
    return ops;
  }

  close(): Promise<void> {
    return this.db.close();
  }

  private async write(ops: Operation[], sync: boolean): Promise<void> {
    try {
      await this.db.batch(ops, { sync });
    } catch (cause) {
      throw new StorageError('STORAGE_IO', 'writing the Raft log failed; nothing of this batch was acknowledged', { cause });
    }
  }
}

async function checkMeta(db: ClassicLevel<string, string>, directory: string, replicaId: string): Promise<void> {
  const stored = await db.get(META_KEY);
  if (stored === undefined) {
    if ((await db.keys({ limit: 1 }).all()).length > 0) {
      throw new StorageError('STORAGE_CORRUPT', `${directory} holds data but no keylease metadata: point --data-dir at a keylease data directory or an empty one`);
    }
    await db.put(META_KEY, encodeRecord({ format: RAFT_STORAGE_FORMAT, replicaId } satisfies Meta), { sync: true });
    return;
  }
  const meta = decodeRecord<Meta>(stored, META_KEY);
  if (meta.format !== RAFT_STORAGE_FORMAT) {
    throw new StorageError(
      'STORAGE_VERSION',
      `${directory} was written in storage format ${JSON.stringify(meta.format)}; this keylease reads ${RAFT_STORAGE_FORMAT}: run the keylease version that wrote it, or start with a new --data-dir`,
    );
  }
  if (meta.replicaId !== replicaId) {
    // A replica must never take over another's log: its votes and acknowledgements would be forged.
    throw new StorageError('STORAGE_CORRUPT', `${directory} belongs to replica ${JSON.stringify(meta.replicaId)}, not ${JSON.stringify(replicaId)}: check --replica-id and --data-dir`);
  }
}

async function recover(db: ClassicLevel<string, string>, logger: Logger): Promise<RecoveredState> {
  const hardStateStored = await db.get(HARD_STATE_KEY);
  let hardState: HardState = hardStateStored === undefined ? { term: 0, vote: null, commit: 0 } : decodeRecord<HardState>(hardStateStored, HARD_STATE_KEY);
  const snapshotStored = await db.get(SNAPSHOT_KEY);
  const snapshot = snapshotStored === undefined ? null : await readSnapshot(db, decodeRecord<StoredSnapshot>(snapshotStored, SNAPSHOT_KEY));
  // Parts of a snapshot that was being written when the replica stopped were never referred to.
  const keptParts = snapshot ? partPrefix(snapshot.meta.index) : null;
  for await (const key of db.keys({ gte: PART_PREFIX, lt: PART_PREFIX + '~' })) if (keptParts === null || !key.startsWith(keptParts)) await db.del(key);
  const after = snapshot?.meta.index ?? 0;

  const stored: Array<[string, string]> = [];
  for await (const [key, value] of db.iterator({ gt: entryKey(after), lt: ENTRY_RANGE.lt })) stored.push([key, value]);
  const entries: Entry[] = [];
  for (const [position, [key, value]] of stored.entries()) {
    let entry: Entry;
    try {
      entry = decodeRecord<Entry>(value, key);
    } catch (error) {
      if (position !== stored.length - 1) throw error;
      // Only the very last record may be torn: it was never acknowledged, so it is dropped.
      logger.warn('dropping a torn last Raft log record', { key });
      await db.del(key, { sync: true });
      break;
    }
    const expected = (entries.length > 0 ? entries[entries.length - 1]!.index : after) + 1;
    if (entry.index !== expected || key !== entryKey(entry.index)) {
      throw new StorageError('STORAGE_CORRUPT', `Raft log entry ${expected} is missing or misplaced (found ${entry.index} under ${key}): restore this replica's data directory or replace the replica`);
    }
    entries.push(entry);
  }
  const lastIndex = entries.length > 0 ? entries[entries.length - 1]!.index : after;
  if (hardState.commit > lastIndex) {
    logger.warn('durable commit index is past the recovered log; lowering it to the last entry', { commit: hardState.commit, lastIndex });
    hardState = { ...hardState, commit: lastIndex };
  }
  return { hardState, snapshot, entries };
}

async function readSnapshot(db: ClassicLevel<string, string>, stored: StoredSnapshot): Promise<Snapshot> {
  if (stored.parts === undefined) return { meta: stored.meta, data: stored.data ?? '' };
  // Every part is checked now, one at a time; the text is read again, part by part, when it is used.
  const lengths: number[] = [];
  const prefix = partPrefix(stored.meta.index);
  for await (const [key, value] of db.iterator({ gte: prefix, lt: prefix + '~' })) {
    if (key !== partKey(stored.meta.index, lengths.length)) break;
    lengths.push(decodeText(value, key).length);
  }
  if (lengths.length !== stored.parts) {
    throw new StorageError('STORAGE_CORRUPT', `the snapshot at ${stored.meta.index} has ${lengths.length} of its ${stored.parts} parts: restore this replica's data directory or replace the replica`);
  }
  return { meta: stored.meta, data: new StoredSnapshotText(db, stored.meta.index, lengths) };
}

function partCount(data: Snapshot['data']): number {
  return data instanceof PartedData ? data.partCount : 1;
}

/** A stored snapshot's text, read from the store a part at a time (the last part read is kept). */
class StoredSnapshotText extends PartedData {
  private cached: { k: number; text: string } | null = null;

  constructor(
    private readonly db: ClassicLevel<string, string>,
    private readonly index: number,
    partLengths: readonly number[],
  ) {
    super(partLengths);
  }

  part(k: number): string {
    if (this.cached?.k === k) return this.cached.text;
    const key = partKey(this.index, k);
    const stored = this.db.getSync(key);
    if (stored === undefined) throw new StorageError('STORAGE_CORRUPT', `snapshot part ${key} is gone while the snapshot is in use: this is a bug; the replica stops`);
    const text = decodeText(stored, key);
    this.cached = { k, text };
    return text;
  }
}
