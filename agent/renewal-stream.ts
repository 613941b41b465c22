import * as grpc from '@grpc/grpc-js';
import { withoutStack } from '../shared/errors/without-stack.js';
import { LEADER_ID_TRAILER, LEADER_TRAILER, NOT_APPLIED_TRAILER, REFUSAL_CODE_TRAILER, RENEW_REFUSALS_HEADER, RETRY_AFTER_TRAILER } from '../shared/proto/agent-metadata.js';
import type { AllocationClient, RenewRefusal__Output, RenewRequest, RenewResponse__Output } from '../shared/proto/load.js';

/** A renewal as sent: what it carried, and when (on the caller's clock). */
export interface SentRenewal {
  readonly request: Omit<RenewRequest, 'sequence'>;
  readonly sentAtMs: number;
}

/** The answer to a renewal, with the renewal it answers (an earlier one than asked for, when that one was waited on). */
export interface StreamRenewal extends SentRenewal {
  readonly response: RenewResponse__Output;
}

interface Waiter {
  readonly resolve: (answer: StreamRenewal) => void;
  readonly reject: (error: grpc.ServiceError) => void;
  readonly timer: NodeJS.Timeout;
}

/** A renewal sent and not answered yet; nobody waits for it once its attempt timed out. */
interface Outstanding extends SentRenewal {
  waiter: Waiter | null;
}

/** Unanswered renewals a stream may carry before it is given up for a fresh one. */
const MAX_OUTSTANDING = 8;

/** A refusal answered as a message, as the error (status and trailers) a replica would have ended the stream with. */
function refusalError(refusal: RenewRefusal__Output): grpc.ServiceError {
  const error = streamError(refusal.status as grpc.status, refusal.message);
  if (refusal.refusalCode) error.metadata.set(REFUSAL_CODE_TRAILER, refusal.refusalCode);
  if (refusal.notApplied) error.metadata.set(NOT_APPLIED_TRAILER, '1');
  if (refusal.leaderEndpoint) error.metadata.set(LEADER_TRAILER, refusal.leaderEndpoint);
  if (refusal.leaderId) error.metadata.set(LEADER_ID_TRAILER, refusal.leaderId);
  if (refusal.retryAfterMs > 0) error.metadata.set(RETRY_AFTER_TRAILER, String(refusal.retryAfterMs));
  return error;
}

function streamError(code: grpc.status, details: string): grpc.ServiceError {
  return withoutStack(() => Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() }));
}

/**
 * An agent's renewals to one replica on one RenewStream call: a renewal is a message, answered by a
 * message carrying its sequence. The stream ends at the first error the replica sends (with Renew's
 * status and trailers).
 *
 * A renewal that goes unanswered in time fails its attempt but stays sent: the replica is most likely
 * busy (a new leader taking a whole fleet at once), and its answer extends the lease from when it was
 * sent. The next attempt here waits for that answer instead of sending another renewal (or takes it, if
 * it came meanwhile), as long as it was sent after the caller's last confirmed one. A fleet that sent a
 * fresh renewal, on a fresh stream, at every timeout buried a new leader under work nobody waited for.
 */
export class RenewalStream {
  private readonly call: grpc.ClientDuplexStream<RenewRequest, RenewResponse__Output>;
  private readonly outstanding = new Map<number, Outstanding>();
  /** The newest answer that came after its attempt had timed out. */
  private late: StreamRenewal | null = null;
  private nextSequence = 1;
  private endedWith: grpc.ServiceError | null = null;

  /** `token` travels in the stream's metadata: a new token takes a new stream. */
  constructor(
    client: AllocationClient,
    readonly token: string | null,
  ) {
    const metadata = new grpc.Metadata();
    if (token) metadata.set('authorization', `Bearer ${token}`);
    // Refusals as messages: the stream outlives a follower's "not the leader" (a replica from before
    // ignores this, and ends the stream with the refusal as its status, which is handled as ever).
    metadata.set(RENEW_REFUSALS_HEADER, 'in-band');
    this.call = client.RenewStream(metadata);
    this.call.on('data', (response: RenewResponse__Output) => {
      const sent = this.outstanding.get(response.sequence);
      if (!sent) return;
      this.outstanding.delete(response.sequence);
      const waiter = sent.waiter;
      sent.waiter = null;
      if (waiter) clearTimeout(waiter.timer);
      if (response.refusal) {
        // Nobody waits for a refusal that came late: the renewal it answers was given up on.
        waiter?.reject(refusalError(response.refusal));
        return;
      }
      const answer = { request: sent.request, sentAtMs: sent.sentAtMs, response };
      if (waiter) waiter.resolve(answer);
      else if (!this.late || this.late.sentAtMs < sent.sentAtMs) this.late = answer;
    });
    this.call.on('error', (error: grpc.ServiceError) => this.end(error));
    // Ended without an error (the replica shut down cleanly): what was in flight is lost.
    this.call.on('status', () => {
      if (!this.endedWith) this.end(streamError(grpc.status.UNAVAILABLE, 'the replica ended the renewal stream'));
    });
  }

  /** False once the stream ended (or was given up): renewals then go on a new one. */
  get open(): boolean {
    return this.endedWith === null;
  }

  /** The status the stream ended with; null while it is open. */
  get endedWithStatus(): grpc.status | null {
    return this.endedWith?.code ?? null;
  }

  /**
   * Renews, or waits for (or takes the late answer of) a renewal of the same lease sent here after
   * `reuseSentAfterMs`. `sentAtMs` is now on the caller's clock; the answer names the renewal it answers.
   */
  renew(request: Omit<RenewRequest, 'sequence'>, timeoutMs: number, sentAtMs: number, reuseSentAfterMs = Infinity): Promise<StreamRenewal> {
    if (this.endedWith) return Promise.reject(this.endedWith);
    const sameLease = (sent: SentRenewal) => sent.sentAtMs >= reuseSentAfterMs && sent.request.leaseId === request.leaseId && sent.request.podName === request.podName;
    if (this.late && sameLease(this.late)) {
      const answer = this.late;
      this.late = null;
      return Promise.resolve(answer);
    }
    let waitFor: Outstanding | null = null;
    for (const sent of this.outstanding.values()) if (!sent.waiter && sameLease(sent) && (!waitFor || sent.sentAtMs > waitFor.sentAtMs)) waitFor = sent;
    if (!waitFor) {
      if (this.outstanding.size >= MAX_OUTSTANDING) {
        // Answers stopped coming on this stream: a fresh one, for this and later renewals.
        this.giveUp(streamError(grpc.status.UNAVAILABLE, `${this.outstanding.size} renewals went unanswered on the renewal stream`));
        return Promise.reject(this.endedWith!);
      }
      const sequence = this.nextSequence;
      this.nextSequence = (this.nextSequence % 0xffffffff) + 1;
      waitFor = { request, sentAtMs, waiter: null };
      this.outstanding.set(sequence, waitFor);
      this.call.write({ ...request, sequence });
    }
    const sent = waitFor;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // Timers run before the loop reads its sockets: on a busy loop the answer may be waiting there.
        // Read first (setImmediate runs after the poll phase), and time out only if it was not.
        setImmediate(() => {
          if (sent.waiter?.timer !== timer) return;
          sent.waiter = null;
          reject(streamError(grpc.status.DEADLINE_EXCEEDED, `no answer to a renewal on the renewal stream within ${Math.round(timeoutMs)} ms`));
        });
      }, timeoutMs);
      sent.waiter = { resolve, reject, timer };
    });
  }

  close(): void {
    if (this.endedWith) this.leave();
    else this.giveUp(streamError(grpc.status.CANCELLED, 'the renewal stream was closed by the agent'));
  }

  private giveUp(error: grpc.ServiceError): void {
    this.end(error);
    this.leave();
  }

  /**
   * Half-closes rather than cancels: a cancel is an RST_STREAM, and a replica's HTTP/2 layer takes a
   * burst of them (a fleet whose renewals time out together on one connection) for an attack and drops
   * the whole connection. The replica answers what it has and ends the stream.
   */
  private leave(): void {
    if (this.call.writable) this.call.end();
  }

  private end(error: grpc.ServiceError): void {
    this.endedWith ??= error;
    for (const sent of this.outstanding.values()) {
      const waiter = sent.waiter;
      if (!waiter) continue;
      sent.waiter = null;
      clearTimeout(waiter.timer);
      waiter.reject(this.endedWith);
    }
    this.outstanding.clear();
    this.late = null;
  }
}
