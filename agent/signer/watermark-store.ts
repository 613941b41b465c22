import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import {
  emptyInterchange,
  parseInterchange,
  serializeInterchange,
  watermarksByKey,
  type Interchange,
  type Watermarks,
} from '../../shared/eth/slashing-protection/index.js';
import { higherWatermarks, NO_WATERMARKS } from '../../shared/eth/slashing-protection/watermarks.js';
import type { Logger } from '../../shared/log/logger.js';
import { SignerError } from './errors.js';
import type { SlashableMessage } from './signing-request.js';

export const SNAPSHOT_FILE = 'signer-watermarks.json';
export const LOG_FILE = 'signer-watermarks.log';
/** Past this size the log is folded into a new snapshot (about 8,000 records). */
const DEFAULT_COMPACT_AT_BYTES = 1024 * 1024;

/**
 * The signer's watermarks on disk (the pod's in-memory volume), so that an agent restarted in the same
 * pod refuses what its predecessor signed. Two files: a snapshot (an EIP-3076 interchange, replaced by
 * write-then-rename) and an append-only log of raises since, one checksummed line each. Appends that
 * arrive while a write is in flight go out together in the next write + fdatasync (group commit), so a
 * burst of signatures costs one sync, not one each.
 *
 * Crash safety: a record counts only once its sync returned, and the signature it protects is returned
 * only after that. A torn write can therefore only damage records nobody was told about; they form the
 * log's tail and are cut off when the store opens. A damaged line with intact lines after it is not a
 * torn write: the store refuses to open rather than forget a watermark.
 */
export class WatermarkStore {
  private pending: Array<{ line: string; resolve: () => void; reject: (error: unknown) => void }> = [];
  private writing: Promise<void> | null = null;

  private constructor(
    private readonly dir: string,
    private readonly genesisValidatorsRoot: string,
    private log: FileHandle,
    private logBytes: number,
    /** Every watermark the signer knows, for the snapshot a compaction writes. */
    private readonly current: () => ReadonlyMap<string, Watermarks>,
    private readonly logger: Logger,
    private readonly compactAtBytes: number,
  ) {}

  /** Opens (creating if needed) the store in `dir`; returns it with the watermarks it holds. */
  static async open(options: {
    dir: string;
    genesisValidatorsRoot: string;
    current: () => ReadonlyMap<string, Watermarks>;
    logger: Logger;
    compactAtBytes?: number;
  }): Promise<{ store: WatermarkStore; persisted: Map<string, Watermarks> }> {
    const { dir, logger } = options;
    const genesisValidatorsRoot = options.genesisValidatorsRoot.toLowerCase();
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      throw stateError(`cannot create the signer's state directory ${dir} (${(error as Error).message})`, error);
    }
    const persisted = await readSnapshot(dir, genesisValidatorsRoot);
    if (!persisted) await writeSnapshot(dir, emptyInterchange(genesisValidatorsRoot));
    const marks = persisted ?? new Map<string, Watermarks>();
    const logPath = join(dir, LOG_FILE);
    const { validBytes, records, tornBytes } = parseLog(await readOptional(logPath), logPath);
    for (const record of records) marks.set(record.pubKey, higherWatermarks(marks.get(record.pubKey) ?? NO_WATERMARKS, raiseOf(record.message)));
    let log: FileHandle;
    try {
      log = await open(logPath, 'a');
      if (tornBytes > 0) {
        // Never acknowledged (see the class comment): cut off so new records follow the last whole one.
        await log.truncate(validBytes);
        await log.datasync();
        logger.warn('the signer state log ended in a torn write; the unfinished record was dropped', { file: logPath, bytes: tornBytes });
      }
      await syncDir(dir);
    } catch (error) {
      throw stateError(`cannot open the signer's state log ${logPath} (${(error as Error).message})`, error);
    }
    return { store: new WatermarkStore(dir, genesisValidatorsRoot, log, validBytes, options.current, logger, options.compactAtBytes ?? DEFAULT_COMPACT_AT_BYTES), persisted: marks };
  }

  /** Resolves once the raise is durable; rejects (SIGNER_STATE) if it could not be written. */
  append(pubKey: string, message: SlashableMessage): Promise<void> {
    const json = JSON.stringify(message.kind === 'block' ? { k: pubKey, b: message.slot.toString() } : { k: pubKey, s: message.sourceEpoch.toString(), t: message.targetEpoch.toString() });
    return new Promise((resolve, reject) => {
      this.pending.push({ line: `${checksum(json)} ${json}\n`, resolve, reject });
      this.startWriting();
    });
  }

  /** Waits until every append made so far is durable (or has failed). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.log.close();
  }

  private startWriting(): void {
    if (this.writing) return;
    this.writing = this.drain().finally(() => {
      this.writing = null;
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      const text = batch.map((entry) => entry.line).join('');
      try {
        await this.log.write(text);
        await this.log.datasync();
        this.logBytes += Buffer.byteLength(text);
        for (const entry of batch) entry.resolve();
      } catch (error) {
        const failure = stateError(`cannot write the signer's watermarks to ${join(this.dir, LOG_FILE)} (${(error as Error).message}): nothing is signed that cannot be recorded`, error);
        for (const entry of batch) entry.reject(failure);
      }
      if (this.logBytes >= this.compactAtBytes) await this.compact();
    }
  }

  /**
   * Folds the log into a new snapshot. The snapshot holds every watermark in memory, which includes
   * every record in the log, so emptying the log afterwards loses nothing; a crash between the two
   * leaves records that are already in the snapshot, which reapply harmlessly.
   */
  private async compact(): Promise<void> {
    try {
      await writeSnapshot(this.dir, interchangeOf(this.genesisValidatorsRoot, this.current()));
      await this.log.truncate(0);
      await this.log.datasync();
      this.logBytes = 0;
    } catch (error) {
      // The log keeps growing and stays correct; compaction is retried after the next write.
      this.logger.warn('could not compact the signer state log', { error: (error as Error).message });
    }
  }
}

/** Minimal-form interchange (one block and one attestation per key at most) of these watermarks. */
export function interchangeOf(genesisValidatorsRoot: string, marks: ReadonlyMap<string, Watermarks>, pubKeys: Iterable<string> = marks.keys()): Interchange {
  const data = [...new Set(pubKeys)].sort().map((pubkey) => {
    const m = marks.get(pubkey) ?? NO_WATERMARKS;
    return {
      pubkey,
      signedBlocks: m.maxBlockSlot === null ? [] : [{ slot: m.maxBlockSlot }],
      signedAttestations: m.maxSourceEpoch === null || m.maxTargetEpoch === null ? [] : [{ sourceEpoch: m.maxSourceEpoch, targetEpoch: m.maxTargetEpoch }],
    };
  });
  return { ...emptyInterchange(genesisValidatorsRoot), data };
}

function raiseOf(message: SlashableMessage): Watermarks {
  return message.kind === 'block'
    ? { ...NO_WATERMARKS, maxBlockSlot: message.slot }
    : { maxBlockSlot: null, maxSourceEpoch: message.sourceEpoch, maxTargetEpoch: message.targetEpoch };
}

interface LogRecord {
  readonly pubKey: string;
  readonly message: SlashableMessage;
}

/** Records of the log; a damaged tail is reported as `tornBytes`, damage before intact lines throws. */
function parseLog(bytes: Buffer | null, path: string): { validBytes: number; records: LogRecord[]; tornBytes: number } {
  if (!bytes) return { validBytes: 0, records: [], tornBytes: 0 };
  const records: LogRecord[] = [];
  let validBytes = 0;
  let offset = 0;
  let firstDamage: number | null = null;
  let lineNumber = 0;
  while (offset < bytes.length) {
    const end = bytes.indexOf(0x0a, offset);
    lineNumber += 1;
    const record = end === -1 ? null : parseLine(bytes.toString('utf8', offset, end));
    if (record) {
      if (firstDamage !== null) {
        throw stateError(`the signer state log ${path} is damaged at line ${firstDamage} with intact records after it: this is not a torn write. Restore the file or move it away knowing that its watermarks are lost`);
      }
      records.push(record);
      validBytes = end + 1;
    } else if (firstDamage === null) {
      firstDamage = lineNumber;
    }
    offset = end === -1 ? bytes.length : end + 1;
  }
  return { validBytes, records, tornBytes: bytes.length - validBytes };
}

const PUBKEY = /^0x[0-9a-f]{96}$/;
const DECIMAL = /^[0-9]{1,20}$/;

function parseLine(line: string): LogRecord | null {
  const space = line.indexOf(' ');
  if (space === -1) return null;
  const json = line.slice(space + 1);
  if (line.slice(0, space) !== checksum(json)) return null;
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return null;
  }
  const { k, b, s, t } = value;
  if (typeof k !== 'string' || !PUBKEY.test(k)) return null;
  if (typeof b === 'string' && DECIMAL.test(b)) return { pubKey: k, message: { kind: 'block', slot: BigInt(b) } };
  if (typeof s === 'string' && typeof t === 'string' && DECIMAL.test(s) && DECIMAL.test(t)) {
    return { pubKey: k, message: { kind: 'attestation', sourceEpoch: BigInt(s), targetEpoch: BigInt(t) } };
  }
  return null;
}

function checksum(json: string): string {
  return createHash('sha256').update(json).digest('hex').slice(0, 16);
}

async function readSnapshot(dir: string, genesisValidatorsRoot: string): Promise<Map<string, Watermarks> | null> {
  const path = join(dir, SNAPSHOT_FILE);
  const text = await readOptional(path);
  if (text === null) return null;
  let interchange: Interchange;
  try {
    interchange = parseInterchange(text.toString('utf8'));
  } catch (error) {
    // Written by rename, so never torn: damage here is not a crash, and its watermarks cannot be guessed.
    throw stateError(`the signer state snapshot ${path} is unreadable (${(error as Error).message}); restore it or remove the state directory knowing that its watermarks are lost`, error);
  }
  if (interchange.metadata.genesisValidatorsRoot !== genesisValidatorsRoot) {
    throw stateError(
      `the signer state in ${dir} is for the chain with genesis_validators_root ${interchange.metadata.genesisValidatorsRoot}, not ${genesisValidatorsRoot}: give the agent a state directory of its own network`,
    );
  }
  return new Map(watermarksByKey(interchange));
}

async function writeSnapshot(dir: string, interchange: Interchange): Promise<void> {
  const path = join(dir, SNAPSHOT_FILE);
  const temporary = `${path}.tmp`;
  try {
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(serializeInterchange(interchange));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
    await syncDir(dir);
  } catch (error) {
    throw stateError(`cannot write the signer state snapshot ${path} (${(error as Error).message})`, error);
  }
}

async function readOptional(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw stateError(`cannot read the signer state file ${path} (${(error as Error).message})`, error);
  }
}

/** Makes a rename or a new file's directory entry durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function stateError(message: string, cause?: unknown): SignerError {
  return new SignerError('SIGNER_STATE', message, cause === undefined ? undefined : { cause });
}
