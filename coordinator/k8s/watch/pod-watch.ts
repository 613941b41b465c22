import type { Logger } from '../../../shared/log/logger.js';
import type { KubeClient } from '../api/kube-client.js';
import { PodInformer } from '../api/pod-informer.js';

export interface PodRef {
  readonly namespace: string;
  readonly podName: string;
  /** When known, a pod of that name with another uid (a StatefulSet's replacement) does not count as this one. */
  readonly podUid?: string;
}

export interface PodWatchOptions {
  readonly kube: KubeClient;
  /** One informer each; the coordinator's RBAC grants pod list/watch in exactly these. */
  readonly namespaces: readonly string[];
  readonly logger: Logger;
  /** Called when a pod of a watched namespace is deleted. */
  readonly onDeleted?: (pod: PodRef) => void;
  /** Pause before restarting an informer whose list or watch failed. */
  readonly restartDelayMs?: number;
}

/** Terminal phases: no container of the pod will run again, so nobody renews its lease. */
const TERMINAL_PHASES = new Set(['Succeeded', 'Failed']);

interface NamespaceInformer {
  readonly informer: PodInformer;
  /** True from a successful list + watch until the next error: only then is "not in the cache" news. */
  synced: boolean;
}

/**
 * Knows which validator pods still exist, from a pod informer per watched namespace. A pod is orphaned
 * when the informer is in sync and the pod is absent, replaced (another uid) or finished. Anything not
 * known for sure (a namespace not watched, an informer not yet synced or restarting after an error)
 * counts as not orphaned: the coordinator only uses this to show and to tidy up leases that have expired
 * anyway, never to take keys away early.
 */
export class PodWatch {
  readonly #informers = new Map<string, NamespaceInformer>();
  #stopped = false;

  private constructor(private readonly options: PodWatchOptions) {}

  /** Starts one informer per namespace and resolves once each has listed its pods (or failed to, and will retry). */
  static async start(options: PodWatchOptions): Promise<PodWatch> {
    const watch = new PodWatch(options);
    await Promise.all(
      [...new Set(options.namespaces)].map((namespace) => {
        const entry: NamespaceInformer = {
          informer: new PodInformer(options.kube, namespace, {
            onDeleted: (pod) => options.onDeleted?.({ namespace, podName: pod.name, ...(pod.uid ? { podUid: pod.uid } : {}) }),
            onError: (error) => watch.#restartLater(namespace, entry, error),
          }),
          synced: false,
        };
        watch.#informers.set(namespace, entry);
        return watch.#run(namespace, entry);
      }),
    );
    return watch;
  }

  /** True when the pod is known to be gone, replaced or finished. */
  isOrphaned(namespace: string, podName: string, podUid?: string): boolean {
    const entry = this.#informers.get(namespace);
    if (!entry?.synced) return false;
    const pod = entry.informer.get(podName);
    if (!pod) return true;
    if (podUid !== undefined && pod.uid !== podUid) return true;
    return TERMINAL_PHASES.has(pod.phase);
  }

  /** The pod as the informer holds it; null when it cannot say (namespace not watched, not in sync, or no such pod). */
  cached(namespace: string, podName: string): { uid: string | undefined; terminating: boolean } | null {
    const entry = this.#informers.get(namespace);
    if (!entry?.synced) return null;
    const pod = entry.informer.get(podName);
    if (!pod) return null;
    return { uid: pod.uid, terminating: pod.terminating };
  }

  /** Those of `pods` that are orphaned. */
  gone(pods: Iterable<PodRef>): PodRef[] {
    return [...pods].filter((p) => this.isOrphaned(p.namespace, p.podName, p.podUid));
  }

  /** Whether every namespace's informer is in sync (for /readyz or a metric). */
  get synced(): boolean {
    return [...this.#informers.values()].every((e) => e.synced);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const entry of this.#informers.values()) entry.informer.stop();
  }

  #restartLater(namespace: string, entry: NamespaceInformer, error: unknown): void {
    entry.synced = false;
    if (this.#stopped) return;
    this.options.logger.warn('pod watch failed; restarting it', { namespace, error: error instanceof Error ? error : String(error) });
    setTimeout(() => void this.#run(namespace, entry), this.options.restartDelayMs ?? 5000).unref();
  }

  /** Lists (the cache is in sync from then on) and watches; a failed list is retried after the delay. */
  async #run(namespace: string, entry: NamespaceInformer): Promise<void> {
    if (this.#stopped) return;
    try {
      await entry.informer.start();
    } catch (error) {
      this.#restartLater(namespace, entry, error);
      return;
    }
    if (this.#stopped) return;
    entry.synced = true;
    this.options.logger.debug('pod watch in sync', { namespace, pods: entry.informer.size });
  }
}
