import { availableParallelism } from 'node:os';
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

/** Told as keys are derived, for metrics: every key a worker finishes, and the keys still to do. */
export interface DerivationObserver {
  onKeyDerived(): void;
  onBacklog(keys: number): void;
}

/**
 * Keys per message to a worker: small, so a pause (CPU pressure) takes effect within a few keys; large
 * next to the cost of a message and of the m/12381/3600 root key each message derives anew (one key
 * ≈ 75 ms of CPU, the root ≈ 2 ms). A request's last keys go one per message (see `chunkSizes`).
 */
const CHUNK_KEYS = 4;
/** Workers beyond the first leave after this long without work: each holds its own heap. */
const IDLE_EXIT_MS = 30_000;
/** While held back, how often to look again whether derivation may go on. */
const PAUSE_POLL_MS = 50;

interface Job {
  readonly seed: Uint8Array;
  readonly kek: Buffer;
  readonly fromIndex: number;
  readonly keys: Array<DerivedPoolKey | undefined>;
  done: number;
  failed: boolean;
  readonly onProgress: DerivationProgress | undefined;
  readonly resolve: (keys: DerivedPoolKey[]) => void;
  readonly reject: (error: Error) => void;
}

interface Chunk {
  readonly job: Job;
  /** Offset of the chunk's first key within the job. */
  readonly offset: number;
  readonly count: number;
}

interface PoolWorker {
  readonly worker: Worker;
  chunk: Chunk | null;
  idleTimer: NodeJS.Timeout | null;
}

/**
 * Derives and seals keys on one worker thread per core (EIP-2333 derivation, then the keystore's KDF),
 * started as work comes. Private keys exist only in the workers; the main thread receives sealed keys.
 * `allowedWorkers` is asked before each chunk is handed out: a leader under CPU pressure derives on
 * fewer threads so that renewals keep their latency (0 holds derivation back altogether).
 */
export class DerivationPool {
  private readonly workers: PoolWorker[] = [];
  private readonly queue: Chunk[] = [];
  private nextChunkId = 1;
  private readonly running = new Map<number, Chunk>();
  private pauseTimer: NodeJS.Timeout | null = null;
  private closed = false;
  observer: DerivationObserver | null = null;

  constructor(
    readonly size: number = availableParallelism(),
    private readonly allowedWorkers: () => number = () => size,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`a derivation pool needs at least one worker, not ${size}`);
  }

  derive(seed: Uint8Array, kek: Buffer, fromIndex: number, count: number, onProgress?: DerivationProgress): Promise<DerivedPoolKey[]> {
    if (count === 0) return Promise.resolve([]);
    if (this.closed) return Promise.reject(new KeysError('DERIVATION', 'key derivation stopped: the coordinator is shutting down'));
    return new Promise((resolve, reject) => {
      const job: Job = { seed, kek, fromIndex, keys: new Array(count), done: 0, failed: false, onProgress, resolve, reject };
      let offset = 0;
      for (const size of chunkSizes(count, this.size)) {
        this.queue.push({ job, offset, count: size });
        offset += size;
      }
      this.reportBacklog();
      this.pump();
    });
  }

  /** Starts one worker now, so the first claim that must derive does not also wait for it to load. */
  warmUp(): void {
    if (this.workers.length === 0) this.addWorker();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    const workers = this.workers.splice(0);
    const error = new KeysError('DERIVATION', 'key derivation stopped: the coordinator is shutting down');
    for (const chunk of [...this.queue.splice(0), ...this.running.values()]) this.fail(chunk.job, error);
    this.running.clear();
    await Promise.all(workers.map((w) => (w.idleTimer && clearTimeout(w.idleTimer), w.worker.terminate())));
  }

  /** Hands queued chunks to idle workers, starting workers up to `size`; looks again later while held back. */
  private pump(): void {
    if (this.closed || this.queue.length === 0) return;
    while (this.queue.length > 0) {
      if (this.running.size >= Math.min(this.size, this.allowedWorkers())) {
        this.pauseTimer ??= setTimeout(() => {
          this.pauseTimer = null;
          this.pump();
        }, PAUSE_POLL_MS);
        return;
      }
      const idle = this.workers.find((w) => w.chunk === null) ?? (this.workers.length < this.size ? this.addWorker() : null);
      if (!idle) return;
      const chunk = this.queue.shift()!;
      if (chunk.job.failed) continue;
      this.send(idle, chunk);
    }
  }

  private send(target: PoolWorker, chunk: Chunk): void {
    if (target.idleTimer) clearTimeout(target.idleTimer);
    target.idleTimer = null;
    target.chunk = chunk;
    const requestId = this.nextChunkId++;
    this.running.set(requestId, chunk);
    const { job } = chunk;
    target.worker.postMessage({ requestId, seed: job.seed, kek: job.kek, fromIndex: job.fromIndex + chunk.offset, count: chunk.count } satisfies DerivationRequest);
  }

  private addWorker(): PoolWorker {
    const worker = startWorkerThread();
    // An idle worker must not keep a stopping process alive.
    worker.unref();
    const entry: PoolWorker = { worker, chunk: null, idleTimer: null };
    worker.on('message', (reply: DerivationReply) => this.onReply(entry, reply));
    worker.on('error', (error) => this.lose(entry, new KeysError('DERIVATION', `a key derivation thread failed: ${error.message}`)));
    worker.on('exit', () => this.lose(entry, new KeysError('DERIVATION', 'a key derivation thread exited; retry the claim')));
    this.workers.push(entry);
    return entry;
  }

  private onReply(from: PoolWorker, reply: DerivationReply): void {
    const chunk = this.running.get(reply.requestId);
    if (!chunk) return;
    const { job } = chunk;
    if (reply.type === 'key') {
      this.observer?.onKeyDerived();
      if (job.failed) return;
      job.keys[reply.key.derivationIndex - job.fromIndex] = reply.key;
      job.done++;
      job.onProgress?.(job.done, job.keys.length);
      if (job.done === job.keys.length) job.resolve(job.keys as DerivedPoolKey[]);
      return;
    }
    this.running.delete(reply.requestId);
    from.chunk = null;
    if (reply.type === 'error') this.fail(job, new KeysError('DERIVATION', `deriving keys failed: ${reply.message}`));
    this.reportBacklog();
    this.retireWhenIdle(from);
    this.pump();
  }

  /** A worker that died fails the job it was working on; the others go on. */
  private lose(entry: PoolWorker, error: Error): void {
    const at = this.workers.indexOf(entry);
    if (at < 0) return;
    this.workers.splice(at, 1);
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    if (entry.chunk) {
      for (const [id, chunk] of this.running) if (chunk === entry.chunk) this.running.delete(id);
      this.fail(entry.chunk.job, error);
    }
    this.pump();
  }

  private retireWhenIdle(entry: PoolWorker): void {
    if (this.workers[0] === entry || this.queue.length > 0) return;
    entry.idleTimer = setTimeout(() => {
      const at = this.workers.indexOf(entry);
      if (at > 0 && entry.chunk === null) {
        this.workers.splice(at, 1);
        void entry.worker.terminate();
      }
    }, IDLE_EXIT_MS);
    entry.idleTimer.unref();
  }

  private fail(job: Job, error: Error): void {
    if (job.failed) return;
    job.failed = true;
    job.reject(error);
  }

  private reportBacklog(): void {
    let keys = 0;
    for (const chunk of this.queue) if (!chunk.job.failed) keys += chunk.count;
    for (const chunk of this.running.values()) keys += chunk.count;
    this.observer?.onBacklog(keys);
  }
}

/**
 * Full chunks while every worker still has more to come, then the last `CHUNK_KEYS × workers` keys one
 * by one: the workers finish a request within a key of each other (not a chunk, ~0.3 s), and a request
 * smaller than that spreads over all of them.
 */
function chunkSizes(count: number, workers: number): number[] {
  const singles = Math.min(count, CHUNK_KEYS * workers);
  const sizes: number[] = [];
  for (let left = count - singles; left > 0; left -= CHUNK_KEYS) sizes.push(Math.min(CHUNK_KEYS, left));
  for (let i = 0; i < singles; i++) sizes.push(1);
  return sizes;
}
