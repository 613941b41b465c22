import { Worker } from 'node:worker_threads';
import type { DerivedPoolKey } from '../core/index.js';
import type { DerivationReply, DerivationRequest } from './derivation-protocol.js';
import { KeysError } from './errors.js';

/**
 * The worker module sits beside this one. Compiled (dist/, the image) it runs as it is; run from the
 * TypeScript source (development, tests) the worker registers tsx itself before loading it, whatever
 * the main thread was started with.
 */
function startWorkerThread(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./derivation-worker.js', import.meta.url));
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
    .then(({ register }) => { register(); return import(${JSON.stringify(new URL('./derivation-worker.ts', import.meta.url).href)}); })`;
  return new Worker(bootstrap, { eval: true });
}

export type DerivationProgress = (done: number, total: number) => void;

interface InFlight {
  readonly keys: DerivedPoolKey[];
  readonly total: number;
  readonly onProgress: DerivationProgress | undefined;
  readonly resolve: (keys: DerivedPoolKey[]) => void;
  readonly reject: (error: Error) => void;
}

/** One worker thread that derives and seals keys, started on first use. */
export class DerivationThread {
  private worker: Worker | null = null;
  private nextRequestId = 1;
  private readonly inFlight = new Map<number, InFlight>();

  derive(seed: Uint8Array, kek: Buffer, fromIndex: number, count: number, onProgress?: DerivationProgress): Promise<DerivedPoolKey[]> {
    if (count === 0) return Promise.resolve([]);
    const worker = this.start();
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.inFlight.set(requestId, { keys: [], total: count, onProgress, resolve, reject });
      worker.postMessage({ requestId, seed, kek, fromIndex, count } satisfies DerivationRequest);
    });
  }

  /** Starts the worker now, so the first claim that must derive does not also wait for it to load. */
  warmUp(): void {
    this.start();
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
    this.failAll(new KeysError('DERIVATION', 'key derivation stopped: the coordinator is shutting down'));
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorkerThread();
    // An idle worker must not keep a stopping process alive.
    worker.unref();
    worker.on('message', (reply: DerivationReply) => this.onReply(reply));
    worker.on('error', (error) => this.failAll(new KeysError('DERIVATION', `the key derivation thread failed: ${error.message}`)));
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = null;
      this.failAll(new KeysError('DERIVATION', 'the key derivation thread exited; retry the claim'));
    });
    this.worker = worker;
    return worker;
  }

  private onReply(reply: DerivationReply): void {
    const request = this.inFlight.get(reply.requestId);
    if (!request) return;
    if (reply.type === 'key') {
      request.keys.push(reply.key);
      request.onProgress?.(request.keys.length, request.total);
      return;
    }
    this.inFlight.delete(reply.requestId);
    if (reply.type === 'done') request.resolve(request.keys);
    else request.reject(new KeysError('DERIVATION', `deriving keys failed: ${reply.message}`));
  }

  private failAll(error: Error): void {
    for (const request of this.inFlight.values()) request.reject(error);
    this.inFlight.clear();
  }
}
