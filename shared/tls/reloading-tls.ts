import { watchFileSet, type FileSetWatch } from '../files/watch-file-set.js';
import { ConfigError } from '../errors/keylease-error.js';
import type { Logger } from '../log/logger.js';
import { checkTlsMaterial, type TlsFiles, type TlsMaterial } from './tls-material.js';

export type TlsMaterialListener = (material: TlsMaterial) => void;

/**
 * TLS files kept current: read and checked at start, then re-read whenever they change on disk (a
 * Secret rotated by cert-manager, a ConfigMap with a new CA bundle). New material that fails its checks
 * is logged and ignored, and the previous material stays in use. Listeners hear of every accepted change;
 * connections already open keep the certificate they were set up with, new ones get the new one.
 */
export class ReloadingTls {
  private material: TlsMaterial;
  private readonly listeners = new Set<TlsMaterialListener>();
  private watch: FileSetWatch | null = null;

  private constructor(initial: TlsMaterial) {
    this.material = initial;
  }

  static async watch(files: TlsFiles, options: { readonly logger: Logger; readonly wallMs?: () => number; readonly debounceMs?: number }): Promise<ReloadingTls> {
    const wallMs = options.wallMs ?? Date.now;
    const paths = [files.caFile, files.certFile, files.keyFile].filter((path): path is string => path !== null);
    const pemsOf = (contents: ReadonlyMap<string, Buffer>) => ({
      caPem: files.caFile ? contents.get(files.caFile)! : null,
      certPem: files.certFile ? contents.get(files.certFile)! : null,
      keyPem: files.keyFile ? contents.get(files.keyFile)! : null,
    });
    let tls: ReloadingTls | null = null;
    const watch = await watchFileSet(
      paths,
      (contents) => {
        const next = checkTlsMaterial(files, pemsOf(contents), wallMs());
        tls?.replace(next);
        options.logger.info('TLS files reloaded; new connections use them', { files: paths, certFingerprint: next.certFingerprint, certNotAfter: isoOrNull(next.certNotAfterMs) });
      },
      { logger: options.logger, ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}) },
    );
    try {
      tls = new ReloadingTls(checkTlsMaterial(files, pemsOf(watch.initial), wallMs()));
    } catch (error) {
      watch.close();
      throw new ConfigError((error as Error).message, { cause: error });
    }
    tls.watch = watch;
    return tls;
  }

  get current(): TlsMaterial {
    return this.material;
  }

  /** Calls `listener` on every accepted change (not with the current material); returns the unsubscribe. */
  subscribe(listener: TlsMaterialListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.watch?.close();
    this.listeners.clear();
  }

  private replace(next: TlsMaterial): void {
    this.material = next;
    for (const listener of this.listeners) listener(next);
  }
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
