import * as grpc from '@grpc/grpc-js';
import type { AllocationClient, RenewRequest, RenewResponse__Output } from '../shared/proto/load.js';

interface Pending {
  readonly resolve: (response: RenewResponse__Output) => void;
  readonly reject: (error: grpc.ServiceError) => void;
  readonly timer: NodeJS.Timeout;
}

function streamError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

/**
 * An agent's renewals to one replica on one RenewStream call: a renewal is a message, answered by a
 * message carrying its sequence. The stream ends at the first error the replica sends (with Renew's
 * status and trailers), and when a renewal goes unanswered in time: that replica may hang, and the
 * next renewal there starts a fresh stream.
 */
export class RenewalStream {
  private readonly call: grpc.ClientDuplexStream<RenewRequest, RenewResponse__Output>;
  private readonly pending = new Map<number, Pending>();
  private nextSequence = 1;
  private endedWith: grpc.ServiceError | null = null;

  /** `token` travels in the stream's metadata: a new token takes a new stream. */
  constructor(
    client: AllocationClient,
    readonly token: string | null,
  ) {
    const metadata = new grpc.Metadata();
    if (token) metadata.set('authorization', `Bearer ${token}`);
    this.call = client.RenewStream(metadata);
    this.call.on('data', (response: RenewResponse__Output) => {
      const waiting = this.pending.get(response.sequence);
      if (!waiting) return; // answered after its renewal timed out
      this.pending.delete(response.sequence);
      clearTimeout(waiting.timer);
      waiting.resolve(response);
    });
    this.call.on('error', (error: grpc.ServiceError) => this.end(error));
    // Ended without an error (the replica shut down cleanly): what was in flight is lost.
    this.call.on('status', () => this.end(streamError(grpc.status.UNAVAILABLE, 'the replica ended the renewal stream')));
  }

  /** False once the stream ended: renewals then go on a new one. */
  get open(): boolean {
    return this.endedWith === null;
  }

  renew(request: Omit<RenewRequest, 'sequence'>, timeoutMs: number): Promise<RenewResponse__Output> {
    if (this.endedWith) return Promise.reject(this.endedWith);
    const sequence = this.nextSequence;
    this.nextSequence = (this.nextSequence % 0xffffffff) + 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.end(streamError(grpc.status.DEADLINE_EXCEEDED, `no answer to a renewal on the renewal stream within ${Math.round(timeoutMs)} ms`));
        this.leave();
      }, timeoutMs);
      this.pending.set(sequence, { resolve, reject, timer });
      this.call.write({ ...request, sequence });
    });
  }

  close(): void {
    this.end(streamError(grpc.status.CANCELLED, 'the renewal stream was closed by the agent'));
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
    for (const waiting of this.pending.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(this.endedWith);
    }
    this.pending.clear();
  }
}
