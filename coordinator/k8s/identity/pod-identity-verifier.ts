import { systemClock, type Clock } from '../../../shared/clock/clock.js';
import { PodIdentityError } from '../../identity/identity-error.js';
import { KubeApiError } from '../api/errors.js';
import type { KubeClient } from '../api/kube-client.js';
import { ReviewCache, tokenKey } from './review-cache.js';

/** The parts of a TokenReview (authentication.k8s.io/v1) read here. */
interface TokenReview {
  readonly status?: {
    readonly authenticated?: boolean;
    readonly error?: string;
    readonly audiences?: string[];
    readonly user?: { readonly username?: string; readonly extra?: Record<string, string[] | undefined> };
  };
}

/** Who presented a token: taken from the API server's review of it, never from the request. */
export interface PodIdentity {
  readonly podName: string;
  readonly podUid: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** The pod is being deleted: it may still release keys (its preStop hook), but should not claim new ones. */
  readonly terminating: boolean;
}

type ReviewedToken = Omit<PodIdentity, 'terminating'>;

/** A pod as a local cache knows it: its uid and whether it is being deleted; null if the cache knows nothing. */
export type CachedPodLookup = (namespace: string, podName: string) => { readonly uid: string | undefined; readonly terminating: boolean } | null;

export interface PodIdentityVerifierOptions {
  readonly kube: KubeClient;
  /** The audience the projected token was made for. */
  readonly audience?: string;
  readonly reviewCacheMs?: number;
  readonly clock?: Clock;
  /**
   * The pod watch's cache. A pod it holds with the token's uid needs no read from the API server; anything
   * else (absent, another uid, not watched, not in sync) is read, since the cache may lag a creation.
   */
  readonly cachedPod?: CachedPodLookup;
}

/**
 * How long a token's review is reused. The pod is checked on every call regardless (a deleted or
 * replaced pod is refused at once); what a longer cache risks is a token revoked some other way (its
 * ServiceAccount deleted) being taken for up to this long. A minute spares the API server a review per
 * renewal: three hundred agents renewing every ten seconds would otherwise cost thirty a second.
 */
const DEFAULT_REVIEW_CACHE_MS = 60_000;
const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';
const SERVICE_ACCOUNT_USER = /^system:serviceaccount:([^:]+):([^:]+)$/;
/** Far above any real JWT; keeps a hostile caller from sending megabytes to the API server. */
const MAX_TOKEN_LENGTH = 16 * 1024;

/**
 * Proves which pod an agent runs in, from the projected ServiceAccount token the agent sends
 * (`authorization: Bearer <token>`): a TokenReview with the keylease audience says whose token it is and
 * which pod it is bound to; then the pod itself is read, because the API server keeps accepting the
 * token of a deleted pod for about ten seconds (it caches reviews) and a StatefulSet recreates a pod
 * under the same name with a new uid. Reviews are cached by token hash; the pod comes from the pod watch's
 * cache when it holds it, else from the API server, so renewals cost the API server nothing.
 */
export class PodIdentityVerifier {
  readonly #kube: KubeClient;
  readonly #audience: string;
  readonly #reviews: ReviewCache<ReviewedToken>;
  readonly #cachedPod: CachedPodLookup | null;

  constructor(options: PodIdentityVerifierOptions) {
    this.#kube = options.kube;
    this.#audience = options.audience ?? 'keylease';
    this.#reviews = new ReviewCache(options.reviewCacheMs ?? DEFAULT_REVIEW_CACHE_MS, options.clock ?? systemClock);
    this.#cachedPod = options.cachedPod ?? null;
  }

  /**
   * Resolves with the identity of a live pod, or throws a PodIdentityError. With `claimed`, the request's
   * own idea of its pod must agree with the token's: a token lent to another pod is refused.
   */
  async verify(token: string, claimed?: { readonly podName?: string; readonly namespace?: string }): Promise<PodIdentity> {
    const reviewed = await this.#review(token.trim());
    const tokenPod = `${reviewed.namespace}/${reviewed.podName}`;
    if ((claimed?.podName !== undefined && claimed.podName !== reviewed.podName) || (claimed?.namespace !== undefined && claimed.namespace !== reviewed.namespace)) {
      throw new PodIdentityError('unauthenticated', 'TOKEN_FOR_ANOTHER_POD', `the token belongs to pod ${tokenPod}, but the request is for pod ${claimed.namespace ?? reviewed.namespace}/${claimed.podName ?? reviewed.podName}: each agent must send its own pod's token`);
    }
    const pod = await this.#readPod(reviewed);
    if (pod === null) {
      throw new PodIdentityError('unauthenticated', 'POD_GONE', `pod ${tokenPod} no longer exists; its token is no longer accepted`);
    }
    if (pod.uid !== reviewed.podUid) {
      throw new PodIdentityError('unauthenticated', 'POD_REPLACED', `the token was made for an earlier pod named ${tokenPod} (uid ${reviewed.podUid}); the pod of that name now has uid ${pod.uid ?? 'none'}`);
    }
    return { ...reviewed, terminating: pod.terminating };
  }

  async #review(token: string): Promise<ReviewedToken> {
    if (token === '') throw new PodIdentityError('unauthenticated', 'TOKEN_MISSING', 'no token: the agent must send "authorization: Bearer <token>" with its pod\'s projected ServiceAccount token (audience keylease)');
    if (token.length > MAX_TOKEN_LENGTH) throw new PodIdentityError('unauthenticated', 'TOKEN_MALFORMED', `the token is ${token.length} characters long; a ServiceAccount token is far shorter`);
    const key = tokenKey(token);
    const cached = this.#reviews.get(key);
    if (cached) return cached;

    let review: TokenReview;
    try {
      review = await this.#kube.post<TokenReview>('/apis/authentication.k8s.io/v1/tokenreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [this.#audience] } });
    } catch (cause) {
      throw new PodIdentityError('unavailable', 'TOKEN_REVIEW_FAILED', `could not ask the Kubernetes API to review the token (${describeApiError(cause)}); try again`, { cause });
    }
    const reviewed = this.#readReview(review);
    this.#reviews.set(key, reviewed);
    return reviewed;
  }

  #readReview(review: TokenReview): ReviewedToken {
    const status = review.status;
    if (!status?.authenticated) {
      throw new PodIdentityError('unauthenticated', 'TOKEN_REJECTED', `Kubernetes did not accept the token${status?.error ? ` (${status.error})` : ''}: send the pod's projected ServiceAccount token made for audience ${this.#audience}`);
    }
    // An authenticator that ignores audiences answers with none: that token was not made for us.
    if (!(status.audiences ?? []).includes(this.#audience)) {
      throw new PodIdentityError('unauthenticated', 'TOKEN_WRONG_AUDIENCE', `the token is not valid for audience ${this.#audience} (it is for ${(status.audiences ?? []).join(', ') || 'the API server'})`);
    }
    const user = status.user ?? {};
    const account = SERVICE_ACCOUNT_USER.exec(user.username ?? '');
    if (!account) {
      throw new PodIdentityError('unauthenticated', 'TOKEN_NOT_SERVICE_ACCOUNT', `the token is for ${JSON.stringify(user.username ?? '')}, not for a ServiceAccount: the agent must send its pod's projected token`);
    }
    const podName = user.extra?.[POD_NAME_EXTRA]?.[0];
    const podUid = user.extra?.[POD_UID_EXTRA]?.[0];
    if (!podName || !podUid) {
      throw new PodIdentityError('unauthenticated', 'TOKEN_NOT_POD_BOUND', `the token of service account ${account[1]}/${account[2]} is not bound to a pod: mount a projected serviceAccountToken volume (audience ${this.#audience}) and send that token`);
    }
    return { podName, podUid, namespace: account[1]!, serviceAccount: account[2]! };
  }

  async #readPod(reviewed: ReviewedToken): Promise<{ uid: string | undefined; terminating: boolean } | null> {
    const cached = this.#cachedPod?.(reviewed.namespace, reviewed.podName) ?? null;
    if (cached !== null && cached.uid === reviewed.podUid) return cached;
    try {
      const pod = await this.#kube.get<{ metadata?: { uid?: string; deletionTimestamp?: string } }>(`/api/v1/namespaces/${encodeURIComponent(reviewed.namespace)}/pods/${encodeURIComponent(reviewed.podName)}`);
      return { uid: pod.metadata?.uid, terminating: pod.metadata?.deletionTimestamp !== undefined };
    } catch (cause) {
      if (cause instanceof KubeApiError && cause.status === 404) return null;
      throw new PodIdentityError('unavailable', 'POD_LOOKUP_FAILED', `could not read pod ${reviewed.namespace}/${reviewed.podName} from the Kubernetes API (${describeApiError(cause)}); try again`, { cause });
    }
  }
}

/** A short description of a failed API call: the HTTP status, or the network error. Never a request body. */
function describeApiError(error: unknown): string {
  if (error instanceof KubeApiError) return `HTTP ${error.status}`;
  return error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : 'unknown error';
}
