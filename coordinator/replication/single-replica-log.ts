import { ClassicLevel } from 'classic-level';
import { applyCommand, createEmptyState, restoreSnapshot, takeSnapshot, type Command, type CommandOutcomes, type CoreSnapshot, type Result, type CoreState } from '../core/index.js';
import type { Logger } from '../../shared/log/logger.js';
import { LogClosedError, StorageError } from './errors.js';
import { decodeRecord, encodeRecord } from './record-codec.js';
import { Listeners } from './listeners.js';
import type { AppliedEntry, ReplicatedLog } from './types.js';

export const SINGLE_REPLICA_FORMAT = 'keylease-single-replica-v1';

const META_KEY = 'meta';
const SNAPSHOT_KEY = 'snapshot';
const ENTRY_PREFIX = 'entry:';
const entryKey = (index: number) => ENTRY_PREFIX + String(index).padStart(16, '0');

interface StoredEntry {
  readonly index: number;
  readonly command: Command;
}

interface StoredSnapshot {
  readonly index: number;
  readonly state: CoreSnapshot;
}

interface Pending {
  readonly command: Command;
  readonly resolve: (entry: AppliedEntry) => void;
  readonly reject: (error: unknown) => void;
}

export interface SingleReplicaOptions {
  readonly directory: string;
  readonly logger: Logger;
  /** Take a snapshot and drop the log prefix after this many entries. */
  readonly snapshotEvery?: number;
}

/**
 * The replicated-log interface for one replica: each command is written to LevelDB with `sync: true`
 * before it is applied and answered. Proposals that arrive while a write is in flight are grouped
 * into the next write, so one fsync serves many commands.
 */
export class SingleReplicaLog implements ReplicatedLog {
  private readonly appliedListeners: Listeners<AppliedEntry>;
  private readonly leadershipListeners: Listeners<boolean>;
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private closed = false;

  private constructor(
    private readonly db: ClassicLevel<string, string>,
    private readonly state: CoreState,
    private lastIndex: number,
    private snapshotIndex: number,
    private readonly snapshotEvery: number,
    private readonly logger: Logger,
  ) {
    this.appliedListeners = new Listeners('applied-entry', logger);
    this.leadershipListeners = new Listeners('leadership', logger);
  }

  static async open(options: SingleReplicaOptions): Promise<SingleReplicaLog> {
    const db = new ClassicLevel<string, string>(options.directory, { valueEncoding: 'utf8' });
    try {
      await db.open();
    } catch (cause) {
      throw new StorageError('STORAGE_IO', `cannot open the database in ${options.directory}: is another keylease using it, or is the directory unwritable?`, { cause });
    }
    try {
      const { state, lastIndex, snapshotIndex } = await recover(db, options.directory);
      options.logger.info('replicated log recovered', { lastIndex, snapshotIndex, keys: state.keys.size, leases: state.leases.size });
      return new SingleReplicaLog(db, state, lastIndex, snapshotIndex, options.snapshotEvery ?? 10_000, options.logger);
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  isLeader(): boolean {
    return !this.closed;
  }
  /** No other replica exists to be elected. */
  leaderLeaseHeld(): boolean {
    return this.isLeader();
  }


  /** A single replica is its own leader: there is nowhere else to send an agent. */
  leaderHint(): string | null {
    return null;
  }

  async propose<C extends Command>(command: C): Promise<Result<CommandOutcomes[C['type']]>> {
    if (this.closed) throw new LogClosedError();
    const entry = await new Promise<AppliedEntry>((resolve, reject) => {
      this.queue.push({ command, resolve, reject });
      this.flushing ??= this.flush();
    });
    return entry.result as Result<CommandOutcomes[C['type']]>;
  }

  async read<T>(query: (state: CoreState) => T): Promise<T> {
    if (this.closed) throw new LogClosedError();
    // Every acknowledged command was applied before its answer went out, so the live state suffices.
    return query(this.state);
  }

  peek<T>(query: (state: CoreState) => T): T {
    if (this.closed) throw new LogClosedError();
    return query(this.state);
  }

  onApplied(listener: (entry: AppliedEntry) => void): () => void {
    return this.appliedListeners.add(listener);
  }

  onLeadershipChange(listener: (isLeader: boolean) => void): () => void {
    return this.leadershipListeners.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.flushing) await this.flushing;
    this.leadershipListeners.emit(false);
    await this.db.close();
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        const entries = batch.map((p, i) => ({ index: this.lastIndex + 1 + i, command: p.command }));
        try {
          await this.db.batch(
            entries.map((e) => ({ type: 'put' as const, key: entryKey(e.index), value: encodeRecord(e) })),
            { sync: true },
          );
        } catch (cause) {
          const error = new StorageError('STORAGE_IO', 'writing to the replicated log failed; nothing was applied', { cause });
          for (const p of batch) p.reject(error);
          continue;
        }
        this.lastIndex += entries.length;
        batch.forEach((pending, i) => pending.resolve(this.apply(entries[i]!)));
        if (this.lastIndex - this.snapshotIndex >= this.snapshotEvery) await this.compact();
      }
    } finally {
      this.flushing = null;
    }
  }

  private apply(stored: StoredEntry): AppliedEntry {
    const entry: AppliedEntry = { index: stored.index, command: stored.command, result: applyCommand(this.state, stored.command) };
    this.appliedListeners.emit(entry);
    return entry;
  }

  /** Snapshot and drop the log prefix in one synced batch, so a crash leaves either the old or the new form. */
  private async compact(): Promise<void> {
    const index = this.lastIndex;
    const ops: Array<{ type: 'put'; key: string; value: string } | { type: 'del'; key: string }> = [
      { type: 'put', key: SNAPSHOT_KEY, value: encodeRecord({ index, state: takeSnapshot(this.state) } satisfies StoredSnapshot) },
    ];
    for (let i = this.snapshotIndex + 1; i <= index; i++) ops.push({ type: 'del', key: entryKey(i) });
    try {
      await this.db.batch(ops, { sync: true });
      this.snapshotIndex = index;
    } catch (error) {
      this.logger.warn('snapshot failed; the log keeps growing until the next attempt', { error });
    }
  }
}

async function recover(db: ClassicLevel<string, string>, directory: string): Promise<{ state: CoreState; lastIndex: number; snapshotIndex: number }> {
  const metaStored = await db.get(META_KEY);
  if (metaStored === undefined) {
    const hasData = (await db.keys({ limit: 1 }).all()).length > 0;
    if (hasData) throw new StorageError('STORAGE_CORRUPT', `${directory} holds data but no keylease metadata: point --data-dir at a keylease data directory or an empty one`);
    await db.put(META_KEY, encodeRecord({ format: SINGLE_REPLICA_FORMAT }), { sync: true });
  } else {
    const meta = decodeRecord<{ format?: string }>(metaStored, META_KEY);
    if (meta.format !== SINGLE_REPLICA_FORMAT) {
      throw new StorageError(
        'STORAGE_VERSION',
        `${directory} was written in storage format ${JSON.stringify(meta.format)}; this keylease reads ${SINGLE_REPLICA_FORMAT}: run the keylease version that wrote it, or start with a new --data-dir`,
      );
    }
  }

  let state = createEmptyState();
  let snapshotIndex = 0;
  const snapshotStored = await db.get(SNAPSHOT_KEY);
  if (snapshotStored !== undefined) {
    const snapshot = decodeRecord<StoredSnapshot>(snapshotStored, SNAPSHOT_KEY);
    state = restoreSnapshot(snapshot.state);
    snapshotIndex = snapshot.index;
  }
  let lastIndex = snapshotIndex;
  for await (const [key, value] of db.iterator({ gt: ENTRY_PREFIX, lt: ENTRY_PREFIX + '~' })) {
    const entry = decodeRecord<StoredEntry>(value, key);
    if (entry.index <= snapshotIndex) continue;
    if (entry.index !== lastIndex + 1) {
      throw new StorageError('STORAGE_CORRUPT', `log entry ${lastIndex + 1} is missing (next found: ${entry.index}); restore the data directory from a backup`);
    }
    applyCommand(state, entry.command);
    lastIndex = entry.index;
  }
  return { state, lastIndex, snapshotIndex };
}
