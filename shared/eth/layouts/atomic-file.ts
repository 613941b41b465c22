import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, rename, rmdir, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Mode of every file a layout writes (keystores, passwords, configs, the ready marker). */
export const FILE_MODE = 0o600;
/** Mode of every directory a layout creates. */
export const DIR_MODE = 0o700;

/**
 * Temporary files are hidden and end in `.keylease-tmp-<hex>`, so no validator client mistakes one for a
 * keystore (Teku loads `*.json`, Web3Signer `*.yaml`, Lighthouse `voting-keystore.json`, …).
 */
const TEMP_INFIX = '.keylease-tmp-';
const TEMP_PATTERN = /^\..+\.keylease-tmp-[0-9a-f]+$/;

/** Errors meaning "it is not there (any more)": removal treats them as done. */
const GONE = new Set(['ENOENT', 'ENOTDIR']);

export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

export function isGone(error: unknown): boolean {
  return GONE.has(errorCode(error) ?? '');
}

/**
 * Writes `content` to `path` so that a reader sees either the old file or the whole new one: a temporary
 * file in the same directory (created exclusively, mode 0600), fsync, rename over `path`, fsync the
 * directory. The temporary file is removed if anything fails.
 */
export async function writeFileAtomic(path: string, content: string | Uint8Array, mode: number = FILE_MODE): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}${TEMP_INFIX}${randomBytes(6).toString('hex')}`);
  const handle = await open(temp, 'wx', mode);
  try {
    try {
      await handle.chmod(mode); // open()'s mode is filtered by the umask
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await fsyncDir(dir);
}

/** Makes the directory entries of `dir` durable (after a create, rename or unlink in it). A missing dir is fine. */
export async function fsyncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
  } catch (error) {
    if (isGone(error)) return;
    throw error;
  }
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems cannot fsync a directory; there is nothing more to do there.
    if (!['EINVAL', 'EISDIR', 'EBADF', 'ENOTSUP'].includes(errorCode(error) ?? '')) throw error;
  } finally {
    await handle.close();
  }
}

/**
 * Creates `dir` (and missing parents) with mode 0700 and makes sure `dir` itself is 0700 even if it existed.
 * The parent's entry is fsynced when the directory was new.
 */
export async function ensureDir(dir: string, options: { enforceMode?: boolean } = {}): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode: DIR_MODE });
  if (options.enforceMode !== false) await chmod(dir, DIR_MODE);
  if (created !== undefined) await fsyncDir(dirname(dir));
}

/** Removes a file; true if it was there. A file that is already gone is not an error. */
export async function removeFile(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (isGone(error)) return false;
    throw error;
  }
}

/** Removes `dir` if it is empty; true if it was removed. Missing or not empty: nothing happens. */
export async function removeDirIfEmpty(dir: string): Promise<boolean> {
  try {
    await rmdir(dir);
    return true;
  } catch (error) {
    if (isGone(error) || ['ENOTEMPTY', 'EEXIST'].includes(errorCode(error) ?? '')) return false;
    throw error;
  }
}

/** Names in `dir`, or none if it does not exist. */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isGone(error)) return [];
    throw error;
  }
}

/** Removes temporary files an interrupted `writeFileAtomic` left in `dir`; true if there were any. */
export async function removeTempFiles(dir: string): Promise<boolean> {
  let removed = false;
  for (const name of await listDir(dir)) {
    if (TEMP_PATTERN.test(name) && (await removeFile(join(dir, name)))) removed = true;
  }
  return removed;
}
