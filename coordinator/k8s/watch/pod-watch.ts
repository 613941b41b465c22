import { CoreV1Api, makeInformer, type Informer, type KubeConfig, type ObjectCache, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../../../shared/log/logger.js';

export interface PodRef {
  readonly namespace: string;
  readonly podName: string;
  /** When known, a pod of that name with another uid (a StatefulSet's replacement) does not count as this one. */
  readonly podUid?: string;
}

export interface PodWatchOptions {
  readonly kubeConfig: KubeConfig;
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
  readonly informer: Informer<V1Pod> & ObjectCache<V1Pod>;
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
    const core = options.kubeConfig.makeApiClient(CoreV1Api);
    await Promise.all(
      [...new Set(options.namespaces)].map((namespace) => {
        const informer = makeInformer<V1Pod>(options.kubeConfig, `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`, () => core.listNamespacedPod({ namespace }));
        const entry: NamespaceInformer = { informer, synced: false };
        watch.#informers.set(namespace, entry);
        watch.#wire(namespace, entry);
        return watch.#run(namespace, entry);
      }),
    );
    return watch;
  }

  /** True when the pod is known to be gone, replaced or finished. */
  isOrphaned(namespace: string, podName: string, podUid?: string): boolean {
    const entry = this.#informers.get(namespace);
    if (!entry?.synced) return false;
    const pod = entry.informer.get(podName, namespace);
    if (!pod) return true;
    if (podUid !== undefined && pod.metadata?.uid !== podUid) return true;
    return TERMINAL_PHASES.has(pod.status?.phase ?? '');
  }

  /** The pod as the informer holds it; null when it cannot say (namespace not watched, not in sync, or no such pod). */
  cached(namespace: string, podName: string): { uid: string | undefined; terminating: boolean } | null {
    const entry = this.#informers.get(namespace);
    if (!entry?.synced) return null;
    const pod = entry.informer.get(podName, namespace);
    if (!pod) return null;
    return { uid: pod.metadata?.uid, terminating: pod.metadata?.deletionTimestamp !== undefined };
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
    await Promise.all([...this.#informers.values()].map((e) => e.informer.stop()));
  }

  #wire(namespace: string, entry: NamespaceInformer): void {
    const { onDeleted } = this.options;
    entry.informer.on('delete', (pod) => {
      const podName = pod.metadata?.name;
      if (podName) onDeleted?.({ namespace, podName, ...(pod.metadata?.uid ? { podUid: pod.metadata.uid } : {}) });
    });
    // client-node stops an informer on any error (and stop() itself reports an AbortError): restart it
    // unless we are the ones stopping, and treat its cache as stale until the restart has listed again.
    entry.informer.on('error', (error: unknown) => this.#restartLater(namespace, entry, error));
  }

  #restartLater(namespace: string, entry: NamespaceInformer, error: unknown): void {
    entry.synced = false;
    if (this.#stopped) return;
    this.options.logger.warn('pod watch failed; restarting it', { namespace, error: error instanceof Error ? error : String(error) });
    setTimeout(() => void this.#run(namespace, entry), this.options.restartDelayMs ?? 5000).unref();
  }

  /**
   * informer.start() resolves whether or not its list and watch succeeded (a failure is reported through
   * 'error' before it resolves), so success is "no error while starting". A start that throws
   * reports nothing, so it is restarted here.
   */
  async #run(namespace: string, entry: NamespaceInformer): Promise<void> {
    if (this.#stopped) return;
    let failed = false;
    const onError = () => (failed = true);
    entry.informer.on('error', onError);
    try {
      await entry.informer.start();
    } catch (error) {
      failed = true;
      this.#restartLater(namespace, entry, error);
    } finally {
      entry.informer.off('error', onError);
    }
    if (!failed && !this.#stopped) {
      entry.synced = true;
      this.options.logger.debug('pod watch in sync', { namespace, pods: entry.informer.list(namespace).length });
    }
  }
}
