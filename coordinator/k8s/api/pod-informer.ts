import { KubeApiError } from './errors.js';
import type { KubeClient, WatchEvent } from './kube-client.js';

/** What keylease needs of a pod: enough to tell it from a replacement and to know it will not run again. */
export interface PodSummary {
  readonly name: string;
  readonly uid: string | undefined;
  readonly terminating: boolean;
  readonly phase: string;
}

interface KubePod {
  readonly metadata?: { readonly name?: string; readonly uid?: string; readonly deletionTimestamp?: string; readonly resourceVersion?: string };
  readonly status?: { readonly phase?: string };
}

interface KubeStatus {
  readonly code?: number;
  readonly reason?: string;
  readonly message?: string;
}

/** The server ends each watch after about this long; the informer then watches on from where it was. */
const WATCH_TIMEOUT_SECONDS = 300;

function summaryOf(pod: KubePod): PodSummary | null {
  const name = pod.metadata?.name;
  if (!name) return null;
  return { name, uid: pod.metadata?.uid, terminating: pod.metadata?.deletionTimestamp !== undefined, phase: pod.status?.phase ?? '' };
}

/**
 * The pods of one namespace, kept current by a list and then a watch from the list's resourceVersion.
 * A watch the server ends is resumed where it stopped; one whose history expired (410 Gone) lists
 * again, and pods that vanished meanwhile count as deleted. Any other failure stops the informer and is
 * reported: the owner decides when to start it again.
 */
export class PodInformer {
  readonly #pods = new Map<string, PodSummary>();
  #abort: AbortController | null = null;

  constructor(
    private readonly client: KubeClient,
    readonly namespace: string,
    private readonly handlers: { readonly onDeleted: (pod: PodSummary) => void; readonly onError: (error: unknown) => void },
  ) {}

  get(name: string): PodSummary | undefined {
    return this.#pods.get(name);
  }

  get size(): number {
    return this.#pods.size;
  }

  /** Lists the pods (throwing if that fails), then watches in the background until stopped or failed. */
  async start(): Promise<void> {
    this.stop();
    const abort = new AbortController();
    this.#abort = abort;
    const resourceVersion = await this.#list();
    void this.#watchFrom(resourceVersion, abort.signal).catch((error: unknown) => {
      if (!abort.signal.aborted) this.handlers.onError(error);
    });
  }

  stop(): void {
    this.#abort?.abort(new Error('pod informer stopped'));
    this.#abort = null;
  }

  get #path(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/pods`;
  }

  async #list(): Promise<string> {
    const list = await this.client.get<{ metadata?: { resourceVersion?: string }; items?: KubePod[] }>(this.#path);
    const seen = new Set<string>();
    for (const pod of list.items ?? []) {
      const summary = summaryOf(pod);
      if (!summary) continue;
      seen.add(summary.name);
      this.#pods.set(summary.name, summary);
    }
    for (const [name, pod] of this.#pods) {
      if (seen.has(name)) continue;
      this.#pods.delete(name);
      this.handlers.onDeleted(pod);
    }
    return list.metadata?.resourceVersion ?? '';
  }

  async #watchFrom(resourceVersion: string, signal: AbortSignal): Promise<void> {
    let from = resourceVersion;
    while (!signal.aborted) {
      let expired = false;
      const query = `?watch=1&allowWatchBookmarks=true&timeoutSeconds=${WATCH_TIMEOUT_SECONDS}&resourceVersion=${encodeURIComponent(from)}`;
      try {
        await this.client.watch<KubePod & KubeStatus>(
          `${this.#path}${query}`,
          (event: WatchEvent<KubePod & KubeStatus>) => {
            if (event.type === 'ERROR') {
              if (event.object.code === 410) {
                expired = true;
                return;
              }
              throw new KubeApiError(event.object.code ?? 0, event.object.reason ?? '', `the pod watch of ${this.namespace} failed: ${event.object.message ?? 'no message'}`);
            }
            const version = event.object.metadata?.resourceVersion;
            if (version) from = version;
            if (event.type === 'BOOKMARK') return;
            const summary = summaryOf(event.object);
            if (!summary) return;
            if (event.type === 'DELETED') {
              this.#pods.delete(summary.name);
              this.handlers.onDeleted(summary);
            } else {
              this.#pods.set(summary.name, summary);
            }
          },
          signal,
        );
      } catch (error) {
        if (!(error instanceof KubeApiError && error.status === 410)) throw error;
        expired = true;
      }
      if (expired && !signal.aborted) from = await this.#list();
    }
  }
}
