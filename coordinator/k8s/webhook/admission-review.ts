import type { InjectionOptions } from './injection-options.js';
import { mutatePod, type MutationResult } from './mutate-pod.js';
import type { PodJson } from './pod-json.js';
import type { ServerVersion } from './server-version.js';

/** The fields of an `admission.k8s.io/v1` AdmissionReview request that the webhook reads. */
export interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  namespace?: string;
  operation?: string;
  dryRun?: boolean;
  object?: unknown;
}

export interface AdmissionReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: {
    uid: string;
    allowed: boolean;
    patchType?: 'JSONPatch';
    /** Base64 of the JSON Patch text. */
    patch?: string;
    status?: { code: number; message: string };
  };
}

/** A body that is not an AdmissionReview v1: answered with HTTP 400, since there is no uid to answer to. */
export class MalformedReviewError extends Error {}

/** Parses an AdmissionReview v1 body; the API server sends only v1, as the configuration asks. */
export function parseAdmissionReview(body: string): AdmissionRequest {
  let review: { apiVersion?: unknown; kind?: unknown; request?: AdmissionRequest };
  try {
    review = JSON.parse(body) as typeof review;
  } catch {
    throw new MalformedReviewError('the body is not JSON: send an admission.k8s.io/v1 AdmissionReview');
  }
  if (review?.apiVersion !== 'admission.k8s.io/v1' || review.kind !== 'AdmissionReview') {
    throw new MalformedReviewError(`expected apiVersion admission.k8s.io/v1, kind AdmissionReview; got ${JSON.stringify(review?.apiVersion)}, ${JSON.stringify(review?.kind)}`);
  }
  if (typeof review.request?.uid !== 'string' || review.request.uid === '') throw new MalformedReviewError('the AdmissionReview has no request.uid');
  return review.request;
}

/**
 * Answers one admission request: pod creations go through mutatePod; anything else the configuration
 * should never have sent is allowed unchanged, so a too-wide rule cannot block the cluster.
 */
export function reviewAdmission(request: AdmissionRequest, serverVersion: ServerVersion, options: InjectionOptions): { response: AdmissionReviewResponse; result: MutationResult | null } {
  const isPodCreate = request.operation === 'CREATE' && request.kind?.kind === 'Pod' && (request.kind.group ?? '') === '' && typeof request.object === 'object' && request.object !== null;
  if (!isPodCreate) return { response: answer(request.uid, { allowed: true }), result: null };
  const pod = request.object as PodJson;
  // On CREATE the object often has no namespace yet; the request has it (used in messages only).
  const named: PodJson = request.namespace && !pod.metadata?.namespace ? { ...pod, metadata: { ...pod.metadata, namespace: request.namespace } } : pod;
  const result = mutatePod(named, serverVersion, options);
  if (!result.allowed) return { response: answer(request.uid, { allowed: false, status: { code: 400, message: result.message } }), result };
  if (result.patch.length === 0) return { response: answer(request.uid, { allowed: true }), result };
  const patch = Buffer.from(JSON.stringify(result.patch)).toString('base64');
  return { response: answer(request.uid, { allowed: true, patchType: 'JSONPatch', patch }), result };
}

function answer(uid: string, response: Omit<AdmissionReviewResponse['response'], 'uid'>): AdmissionReviewResponse {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, ...response } };
}
