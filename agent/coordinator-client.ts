import * as grpc from '@grpc/grpc-js';
import { keyleaseProto, type AllocationClient, type ClaimResponse__Output } from '../shared/proto/load.js';

/** Matches coordinator/api/grpc-server.ts: the agent reads the refusal code, not the message. */
const REFUSAL_CODE_TRAILER = 'keylease-refusal-code';

/** A failed call: the gRPC status, the coordinator's refusal code if it refused, and its message. */
export class CoordinatorCallError extends Error {
  constructor(
    readonly status: grpc.status,
    readonly refusalCode: string | null,
    message: string,
  ) {
    super(message);
  }

  /** The coordinator answered, and said no: retrying elsewhere will not help. */
  get isRefusal(): boolean {
    return this.refusalCode !== null;
  }
}

export interface ClaimedKeys {
  readonly leaseId: string;
  readonly leaseTtlMs: number;
  readonly keys: ReadonlyArray<{ pubKey: string; keystoreJson: string; keystorePassword: string }>;
}

/**
 * Talks to whichever coordinator replica answers: on UNAVAILABLE or a deadline it moves to the next
 * endpoint for the following call.
 */
export class CoordinatorClient {
  private readonly clients: AllocationClient[];
  private current = 0;

  constructor(endpoints: readonly string[]) {
    const Allocation = keyleaseProto().keylease.v1.Allocation;
    this.clients = endpoints.map((endpoint) => new Allocation(endpoint, grpc.credentials.createInsecure()));
  }

  get endpointCount(): number {
    return this.clients.length;
  }

  async claim(podName: string, pool: string, count: number, timeoutMs: number): Promise<ClaimedKeys> {
    const response = await this.call<ClaimResponse__Output>((client, options, done) => client.Claim({ podName, pool, count }, options, done), timeoutMs);
    return { leaseId: response.leaseId, leaseTtlMs: response.leaseTtlMs, keys: response.keys };
  }

  async renew(podName: string, leaseId: string, timeoutMs: number): Promise<{ leaseTtlMs: number }> {
    return this.call((client, options, done) => client.Renew({ podName, leaseId }, options, done), timeoutMs);
  }

  /** `requestId` stays the same across retries of one release, so the coordinator applies it once. */
  async release(podName: string, leaseId: string, timeoutMs: number, requestId = ''): Promise<void> {
    await this.call((client, options, done) => client.Release({ podName, leaseId, requestId }, options, done), timeoutMs);
  }

  close(): void {
    for (const client of this.clients) client.close();
  }

  private call<T>(
    invoke: (client: AllocationClient, options: grpc.CallOptions, done: (error: grpc.ServiceError | null, value?: T) => void) => void,
    timeoutMs: number,
  ): Promise<T> {
    const client = this.clients[this.current]!;
    return new Promise<T>((resolve, reject) => {
      invoke(client, { deadline: Date.now() + Math.max(1, timeoutMs) }, (error, value) => {
        if (!error) {
          resolve(value as T);
          return;
        }
        const refusal = error.metadata?.get(REFUSAL_CODE_TRAILER)[0];
        if (error.code === grpc.status.UNAVAILABLE || error.code === grpc.status.DEADLINE_EXCEEDED) {
          this.current = (this.current + 1) % this.clients.length;
        }
        reject(new CoordinatorCallError(error.code, refusal === undefined ? null : String(refusal), error.details || error.message));
      });
    });
  }
}
