import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors/keylease-error.js';
import type { Logger } from '../log/logger.js';

export type FileContents = ReadonlyMap<string, Buffer>;

export interface FileSetWatch {
  /** The contents read at start, keyed by the paths as given. */
  readonly initial: FileContents;
  close(): void;
}

/**
 * Watches a set of files that belong together (a certificate and its key, a token, a policy) and calls
 * `onChange` with all of their contents whenever any of them changes. It watches the directories, not the
 * files: Kubernetes updates a mounted Secret or ConfigMap by pointing the `..data` symlink at a new
 * directory, so the files' own inodes never change and a watch on them would see nothing. Events are
 * debounced, and a read that fails mid-swap keeps the old contents until the next event. Contents are
 * never logged.
 */
export async function watchFileSet(
  paths: readonly string[],
  onChange: (contents: FileContents) => void | Promise<void>,
  options: { readonly logger: Logger; readonly debounceMs?: number },
): Promise<FileSetWatch> {
  const { logger } = options;
  const debounceMs = options.debounceMs ?? 200;
  let current: Map<string, Buffer>;
  try {
    current = await readAll(paths);
  } catch (cause) {
    throw new ConfigError(`cannot read ${paths.join(', ')}: check the paths (and that the Secret or ConfigMap is mounted)`, { cause });
  }

  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  const reload = async () => {
    let next: Map<string, Buffer>;
    try {
      next = await readAll(paths);
    } catch (error) {
      logger.warn('could not re-read watched files; keeping the previous contents', { paths, error: error as Error });
      return;
    }
    const changed = paths.filter((p) => !next.get(p)!.equals(current.get(p)!));
    if (changed.length === 0 || closed) return;
    current = next;
    logger.info('watched files changed', { paths: changed });
    try {
      await onChange(next);
    } catch (error) {
      logger.error('applying changed files failed; the previous ones stay in use', { paths: changed, error: error as Error });
    }
  };
  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void reload();
    }, debounceMs);
  };

  const directories = [...new Set(paths.map((p) => dirname(resolve(p))))];
  const watchers: FSWatcher[] = directories.map((dir) =>
    watch(dir, { persistent: false }, schedule).on('error', (error) => logger.warn('directory watch failed', { dir, error })),
  );
  return {
    initial: current,
    close: () => {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}

async function readAll(paths: readonly string[]): Promise<Map<string, Buffer>> {
  const contents = await Promise.all(paths.map((p) => readFile(p)));
  return new Map(paths.map((p, i) => [p, contents[i]!]));
}
