import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { newAllocationClient } from '../shared/proto/allocation-client.js';
import type { AllocationClient, ClaimResponse__Output, ReleaseResponse__Output } from '../shared/proto/load.js';

/** Match coordinator/api/grpc-server.ts: the agent reads the refusal code, not the message. */
const REFUSAL_CODE_TRAILER = 'keylease-refusal-code';
/** Sent by a follower: where the leader takes agent calls. */
const LEADER_TRAILER = 'keylease-leader';

/** Sent when the request certainly had no effect (no leader took it). */
const NOT_APPLIED_TRAILER = 'keylease-not-applied';

/** A failed call: the gRPC status, the coordinator's refusal code if it refused, and its message. */
export class CoordinatorCallError extends Error {
  constructor(
    readonly status: grpc.status,
    readonly refusalCode: string | null,
    message: string,
    /** True when the coordinator said the request had no effect; false when that is unknown. */
    readonly notApplied = false,
  ) {
    super(message);
  }

  /** The coordinator answered, and said no: retrying elsewhere will not help. */
  get isRefusal(): boolean {
    return this.refusalCode !== null;
  }
}

/** How the agent hands keys to its client, as the coordinator records it (decides what an unproven end means). */
export type SigningMode = 'signer' | 'keymanager' | 'files';

export interface ClaimedKeys {
  readonly leaseId: string;
  readonly leaseTtlMs: number;
  /** The pool's network: what a remote-signer agent checks requests against. */
  readonly genesisValidatorsRoot: string;
  readonly genesisForkVersion: string;
  readonly keys: ReadonlyArray<{ pubKey: string; keystoreJson: string; keystorePassword: string; slashingProtection: string }>;
}

/**
 * Talks to whichever coordinator replica answers: a follower names the leader and the next call goes
 * there; on UNAVAILABLE without a name, or a deadline, it moves on to the next configured endpoint.
 */
export class CoordinatorClient {
  private readonly configured: string[];
  private readonly clients = new Map<string, AllocationClient>();
  private current: string;

  /**
   * `credentials` are insecure by default; with TLS credentials, coordinators must present a certificate
   * their CA signed. With `tokenFile`, every call carries the pod's ServiceAccount token, read afresh (the
   * kubelet rotates it).
   */
  constructor(
    endpoints: readonly string[],
    private readonly credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
    private readonly tokenFile: string | null = null,
  ) {
    this.configured = [...endpoints];
    this.current = this.configured[0]!;
  }

  get endpointCount(): number {
    return this.configured.length;
  }

  /** The endpoint the next call goes to. */
  get endpoint(): string {
    return this.current;
  }

  /** `signingMode` defaults to files, the strictest: an end without proof quarantines the keys. */
  async claim(podName: string, pool: string, count: number, timeoutMs: number, signingMode: SigningMode = 'files'): Promise<ClaimedKeys> {
    const response = await this.call<ClaimResponse__Output>((client, metadata, options, done) => client.Claim({ podName, pool, count, signingMode }, metadata, options, done), timeoutMs);
    return { leaseId: response.leaseId, leaseTtlMs: response.leaseTtlMs, genesisValidatorsRoot: response.genesisValidatorsRoot, genesisForkVersion: response.genesisForkVersion, keys: response.keys };
  }

  /** `slashingProtection`: the watermarks signed so far (remote-signer mode), kept by the leader. */
  async renew(podName: string, leaseId: string, timeoutMs: number, slashingProtection = ''): Promise<{ leaseTtlMs: number }> {
    return this.call((client, metadata, options, done) => client.Renew({ podName, leaseId, slashingProtection }, metadata, options, done), timeoutMs);
  }

  /** After the lease ended unproven: the client no longer holds these keys (proven), with its protection. */
  async reportRemoved(podName: string, pubKeys: readonly string[], slashingProtection: string | null, timeoutMs: number): Promise<{ returned: readonly string[] }> {
    return this.call((client, metadata, options, done) => client.ReportRemoved({ podName, pubKeys: [...pubKeys], slashingProtection: slashingProtection ?? '' }, metadata, options, done), timeoutMs);
  }

  /**
   * `requestId` stays the same across retries of one release, so the coordinator applies it once;
   * `slashingProtection` is what the validator client returned for the keys (EIP-3076 interchange).
   */
  /** Resolves with the keys the pool quarantined rather than took back (no proof came with them). */
  async release(podName: string, leaseId: string, timeoutMs: number, options: { requestId?: string; slashingProtection?: string | null; reason?: 'released' | 'fenced' } = {}): Promise<{ quarantined: readonly string[] }> {
    const request = { podName, leaseId, requestId: options.requestId ?? '', slashingProtection: options.slashingProtection ?? '', reason: options.reason ?? '' };
    const response = await this.call<ReleaseResponse__Output>((client, metadata, callOptions, done) => client.Release(request, metadata, callOptions, done), timeoutMs);
    return { quarantined: response.quarantined ?? [] };
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private clientFor(endpoint: string): AllocationClient {
    let client = this.clients.get(endpoint);
    if (!client) {
      client = newAllocationClient(endpoint, this.credentials);
      this.clients.set(endpoint, client);
    }
    return client;
  }

  private call<T>(
    invoke: (client: AllocationClient, metadata: grpc.Metadata, options: grpc.CallOptions, done: (error: grpc.ServiceError | null, value?: T) => void) => void,
    timeoutMs: number,
  ): Promise<T> {
    const client = this.clientFor(this.current);
    const token = this.tokenFile ? readFileSync(this.tokenFile, 'utf8').trim() : null;
    return new Promise<T>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      if (token) metadata.set('authorization', `Bearer ${token}`);
      invoke(client, metadata, { deadline: Date.now() + Math.max(1, timeoutMs) }, (error, value) => {
        if (!error) {
          resolve(value as T);
          return;
        }
        const refusal = error.metadata?.get(REFUSAL_CODE_TRAILER)[0];
        const leader = error.metadata?.get(LEADER_TRAILER)[0];
        if (leader !== undefined) this.current = String(leader);
        else if (error.code === grpc.status.UNAVAILABLE || error.code === grpc.status.DEADLINE_EXCEEDED) this.moveOn();
        const notApplied = error.metadata?.get(NOT_APPLIED_TRAILER)[0] !== undefined;
        reject(new CoordinatorCallError(error.code, refusal === undefined ? null : String(refusal), error.details || error.message, notApplied));
      });
    });
  }

  private moveOn(): void {
    const at = this.configured.indexOf(this.current);
    this.current = this.configured[(at + 1) % this.configured.length]!;
  }
}
