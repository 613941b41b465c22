import { join, resolve } from 'node:path';
import { KeyleaseError } from '../../errors/keylease-error.js';
import { parseKeystore } from '../keystore.js';
import { ensureDir, fsyncDir, listDir, removeDirIfEmpty, removeFile, removeTempFiles, writeFileAtomic } from './atomic-file.js';
import type { KeyLayout, KeyToWrite, LayoutName } from './types.js';

/**
 * The machinery every layout shares: key checks, the write order (ready marker removed first, written
 * last), removal of exactly the files a layout owns, and one operation at a time per output directory.
 */

/** Written last by `write`, removed first by `remove`: JSON `{ "layout": …, "pubKeys": [...] }`. */
export const READY_MARKER = 'keylease-ready.json';

const PUBKEY = /^0x[0-9a-f]{96}$/;
const PUBKEY_CAPTURE = '(0x[0-9a-f]{96})';

export type LayoutErrorCode = 'LAYOUT_UNKNOWN' | 'LAYOUT_KEY' | 'LAYOUT_WRITE' | 'LAYOUT_REMOVE' | 'LAYOUT_SUPERSEDED';

/** A layout could not write or remove keys. Messages name files and public keys, never a password or secret. */
export class LayoutError extends KeyleaseError {
  constructor(code: LayoutErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** One file per key: `<outDir>/<dir>/<pubKey><suffix>`, or `<outDir>/<dir>/<pubKey>/<innerFile>` when the key has its own directory. */
export interface KeySlot {
  /** Directory relative to outDir; '' is outDir itself. */
  readonly dir: string;
  /** Appended to the 0x-pubkey to name the entry ('' for none). */
  readonly suffix: string;
  /** If set, the entry is a directory per key and this is the file in it. */
  readonly innerFile?: string;
  /** The file's content; `outDir` is absolute. */
  content(key: KeyToWrite, outDir: string): string;
}

export interface OutputFile {
  /** Relative to outDir; must be one of the layout's `globalFiles`. */
  readonly path: string;
  readonly content: string | Uint8Array;
}

export interface LayoutSpec {
  readonly name: LayoutName;
  /** Directories (relative to outDir, parents first) created with mode 0700 and removed on `remove` once empty. */
  readonly dirs: readonly string[];
  /** Per-key files, in write order (password before keystore before per-key config); removed in reverse. */
  readonly slots: readonly KeySlot[];
  /** Files built from the whole key set (relative to outDir), in write order; removed in reverse, before any key. */
  readonly globalFiles: readonly string[];
  /** Builds the global files after the per-key files are written. `checkpoint` throws once the write is superseded. */
  buildGlobals?(outDir: string, keys: readonly KeyToWrite[], checkpoint: () => void): Promise<OutputFile[]>;
}

/** Absolute path of a key's file in a slot. */
export function slotPath(outDir: string, slot: KeySlot, pubKey: string): string {
  const entry = join(outDir, slot.dir, pubKey + slot.suffix);
  return slot.innerFile ? join(entry, slot.innerFile) : entry;
}

/** Makes a `KeyLayout` from a spec. */
export function defineLayout(spec: LayoutSpec): KeyLayout {
  return {
    name: spec.name,
    write: (outDir, keys) => {
      const dir = resolve(outDir);
      const state = stateOf(dir);
      const generation = ++state.generation;
      const checkpoint = (): void => {
        if (state.generation !== generation) {
          throw new LayoutError('LAYOUT_SUPERSEDED', `writing the ${spec.name} keys in ${dir} was abandoned: a later remove or write of the same directory took over`);
        }
      };
      return enqueue(state, () => writeLayout(spec, dir, keys, checkpoint));
    },
    remove: (outDir) => {
      const dir = resolve(outDir);
      const state = stateOf(dir);
      // Abandons a write in progress at its next step; the removal runs as soon as that step ends.
      state.generation++;
      return enqueue(state, () => removeLayout(spec, dir));
    },
  };
}

/* ----------------------------------------------------------------------------------------------- */
/* One operation at a time per directory.                                                            */

interface DirState {
  generation: number;
  tail: Promise<void>;
}

const states = new Map<string, DirState>();

function stateOf(dir: string): DirState {
  let state = states.get(dir);
  if (!state) {
    state = { generation: 0, tail: Promise.resolve() };
    states.set(dir, state);
  }
  return state;
}

function enqueue(state: DirState, operation: () => Promise<void>): Promise<void> {
  const run = state.tail.then(operation);
  state.tail = run.catch(() => {});
  return run;
}

/* ----------------------------------------------------------------------------------------------- */
/* Write.                                                                                            */

async function writeLayout(spec: LayoutSpec, outDir: string, keys: readonly KeyToWrite[], checkpoint: () => void): Promise<void> {
  checkpoint();
  try {
    // Bad input still clears the directory: whatever an earlier write left is not wanted any more.
    checkKeys(keys);
    await ensureDir(outDir, { enforceMode: false });
    // Nothing may look ready while the set of keys changes.
    await removeFile(join(outDir, READY_MARKER));
    await fsyncDir(outDir);
    await removeOwned(spec, outDir, new Set(keys.map((k) => k.pubKey)), { removeDirs: false });
    for (const dir of spec.dirs) await ensureDir(join(outDir, dir));
    for (const key of keys) {
      for (const slot of spec.slots) {
        checkpoint();
        if (slot.innerFile) await ensureDir(join(outDir, slot.dir, key.pubKey + slot.suffix));
        await writeFileAtomic(slotPath(outDir, slot, key.pubKey), slot.content(key, outDir));
      }
    }
    if (spec.buildGlobals) {
      const files = await spec.buildGlobals(outDir, keys, checkpoint);
      for (const file of files) {
        if (!spec.globalFiles.includes(file.path)) throw new Error(`${spec.name} built ${file.path}, which is not one of its global files`);
        checkpoint();
        await writeFileAtomic(join(outDir, file.path), file.content);
      }
    }
    checkpoint();
    const marker = { layout: spec.name, pubKeys: keys.map((k) => k.pubKey) };
    await writeFileAtomic(join(outDir, READY_MARKER), JSON.stringify(marker, null, 2) + '\n');
  } catch (error) {
    if (error instanceof LayoutError && error.code === 'LAYOUT_SUPERSEDED') throw error; // the remove that took over cleans up
    // A failed write leaves no key material behind.
    await removeLayout(spec, outDir).catch(() => {});
    if (error instanceof LayoutError) throw error;
    throw new LayoutError('LAYOUT_WRITE', `could not write the ${spec.name} keys in ${outDir}: ${describe(error)}`, { cause: error });
  }
}

/** Rejects what no client could load, before anything is written. Only public keys appear in messages. */
function checkKeys(keys: readonly KeyToWrite[]): void {
  const seen = new Set<string>();
  for (const [i, key] of keys.entries()) {
    if (typeof key.pubKey !== 'string' || !PUBKEY.test(key.pubKey)) {
      throw new LayoutError('LAYOUT_KEY', `key #${i + 1}: the public key must be 0x and 96 lowercase hex digits`);
    }
    if (seen.has(key.pubKey)) throw new LayoutError('LAYOUT_KEY', `key ${key.pubKey} is listed twice`);
    seen.add(key.pubKey);
    if (typeof key.keystorePassword !== 'string') throw new LayoutError('LAYOUT_KEY', `key ${key.pubKey} has no keystore password`);
    let named: string | undefined;
    try {
      named = parseKeystore(key.keystoreJson).pubkey;
    } catch (cause) {
      throw new LayoutError('LAYOUT_KEY', `the keystore of ${key.pubKey} is unusable: ${describe(cause)}`, { cause });
    }
    if (named !== undefined && '0x' + named.replace(/^0x/, '').toLowerCase() !== key.pubKey) {
      throw new LayoutError('LAYOUT_KEY', `the keystore handed over for ${key.pubKey} names another public key`);
    }
  }
}

/* ----------------------------------------------------------------------------------------------- */
/* Remove.                                                                                           */

async function removeLayout(spec: LayoutSpec, outDir: string): Promise<void> {
  const failures: unknown[] = [];
  // The marker goes first, and durably, so nothing reads "ready" while keys disappear.
  await attempt(failures, () => removeFile(join(outDir, READY_MARKER)));
  await attempt(failures, () => fsyncDir(outDir));
  await removeOwned(spec, outDir, new Set(), { removeDirs: true }, failures);
  if (failures.length > 0) {
    throw new LayoutError('LAYOUT_REMOVE', `could not remove every ${spec.name} key file from ${outDir}: ${describe(failures[0])}`, { cause: failures[0] });
  }
}

/**
 * Removes the global files, then every key of this layout found on disk that is not in `keep`, then any
 * temporary files; with `removeDirs`, also the layout's directories once empty. Keeps going past errors
 * (collected in `failures`, or thrown at the end when no collector is given).
 */
async function removeOwned(spec: LayoutSpec, outDir: string, keep: ReadonlySet<string>, options: { removeDirs: boolean }, collector?: unknown[]): Promise<void> {
  const failures = collector ?? [];
  const touched = new Set<string>();
  const drop = async (path: string, dir: string): Promise<void> => {
    await attempt(failures, async () => {
      if (await removeFile(path)) touched.add(dir);
    });
  };

  for (const rel of [...spec.globalFiles].reverse()) {
    const path = join(outDir, rel);
    await drop(path, join(path, '..'));
  }

  const owned = new Set<string>();
  for (const slot of spec.slots) {
    const pattern = new RegExp(`^${PUBKEY_CAPTURE}${escapeRegExp(slot.suffix)}$`);
    const names = await attempt(failures, () => listDir(join(outDir, slot.dir)));
    for (const name of names ?? []) {
      const pubKey = pattern.exec(name)?.[1];
      if (pubKey) owned.add(pubKey);
    }
  }
  for (const pubKey of owned) {
    const stale = !keep.has(pubKey);
    for (const slot of [...spec.slots].reverse()) {
      const slotDir = join(outDir, slot.dir);
      if (slot.innerFile) {
        const keyDir = join(slotDir, pubKey + slot.suffix);
        if (stale) await drop(join(keyDir, slot.innerFile), keyDir);
        await attempt(failures, async () => {
          if (await removeTempFiles(keyDir)) touched.add(keyDir);
        });
        if (stale) {
          await attempt(failures, async () => {
            if (await removeDirIfEmpty(keyDir)) touched.add(slotDir);
          });
        }
      } else if (stale) {
        await drop(join(slotDir, pubKey + slot.suffix), slotDir);
      }
    }
  }

  const tempDirs = new Set([outDir, ...spec.dirs.map((d) => join(outDir, d)), ...spec.slots.map((s) => join(outDir, s.dir)), ...spec.globalFiles.map((f) => join(outDir, f, '..'))]);
  for (const dir of tempDirs) {
    await attempt(failures, async () => {
      if (await removeTempFiles(dir)) touched.add(dir);
    });
  }

  if (options.removeDirs) {
    for (const rel of [...spec.dirs].reverse()) {
      const dir = join(outDir, rel);
      await attempt(failures, async () => {
        if (await removeDirIfEmpty(dir)) touched.add(join(dir, '..'));
      });
    }
  }

  for (const dir of touched) await attempt(failures, () => fsyncDir(dir));
  if (!collector && failures.length > 0) throw failures[0];
}

async function attempt<T>(failures: unknown[], step: () => Promise<T>): Promise<T | undefined> {
  try {
    return await step();
  } catch (error) {
    failures.push(error);
    return undefined;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
