import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import type { AllocationClient, ClaimResponse__Output, ReleaseResponse__Output, RenewResponse__Output } from '../shared/proto/load.js';
import { withoutStack } from '../shared/errors/without-stack.js';
import { LEADER_ID_TRAILER, LEADER_TRAILER, NOT_APPLIED_TRAILER, REFUSAL_CODE_TRAILER, RETRY_AFTER_TRAILER } from '../shared/proto/agent-metadata.js';
import { AllocationChannels } from './allocation-channels.js';
import { RenewalStream } from './renewal-stream.js';

/** A failed call: the gRPC status, the coordinator's refusal code if it refused, and its message. */
export class CoordinatorCallError extends Error {
  constructor(
    readonly status: grpc.status,
    readonly refusalCode: string | null,
    message: string,
    /** True when the coordinator said the request had no effect; false when that is unknown. */
    readonly notApplied = false,
    /** The replica id of the leader, when a follower named it. */
    readonly leaderId: string | null = null,
    /** When a busy leader asked to be tried again, in milliseconds; null when it did not say. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }

  /** The coordinator answered, and said no: retrying elsewhere will not help. */
  get isRefusal(): boolean {
    return this.refusalCode !== null;
  }
}

type Invocation<T> = (client: AllocationClient, metadata: grpc.Metadata, options: grpc.CallOptions, done: (error: grpc.ServiceError | null, value?: T) => void) => void;

/**
 * The watermarks a renewal carries (remote-signer mode): `slashingProtection` in full, or empty with
 * `protectionVersion` naming those sent earlier and unchanged since (see RenewRequest).
 */
export interface RenewWatermarks {
  readonly slashingProtection?: string;
  readonly protectionVersion?: string;
}

/** The renewal an answer is for: this attempt's, or an earlier one still unanswered that it waited for. */
export interface AnsweredRenewal {
  readonly sentAtMs: number;
  readonly watermarks: RenewWatermarks;
}

export interface Renewed {
  readonly leaseTtlMs: number;
  /** The version of the watermarks the leader holds for the lease; empty if it holds none of a version. */
  readonly protectionVersion: string;
}

export interface CoordinatorClientOptions {
  /** Shared by many clients in one process (the fleet bench); by default the client has its own, and closes them. */
  readonly channels?: AllocationChannels;
  /** 'unary' renews with a Renew call each time, as agents before RenewStream did. */
  readonly renewOver?: 'stream' | 'unary';
}

/** After a replica answered that it has no RenewStream (it runs an older version), renew there with calls this long. */
const UNARY_FALLBACK_MS = 5 * 60_000;

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
 * Talks to whichever coordinator replica answers: a follower that knows the leader names it, and the
 * same claim or release is sent there at once (one redirect, within the call's deadline; a renewal goes
 * there on its next attempt); on UNAVAILABLE without a name, or a deadline, the next call moves on to
 * the next endpoint in this client's own order. Renewals go on one long-lived RenewStream per replica.
 */
export class CoordinatorClient {
  private readonly configured: string[];
  /**
   * The order this client moves on in after a dead or hung replica: the configured endpoints shuffled
   * once per client. A fleet moving on in the configured order all asked the same replica next when the
   * leader died, and buried it (and the quorum it owed the new leader) in refusals.
   */
  private readonly rounds: string[];
  private readonly channels: AllocationChannels;
  private readonly ownsChannels: boolean;
  private readonly renewOver: 'stream' | 'unary';
  private readonly streams = new Map<string, RenewalStream>();
  /** Replicas without RenewStream, until when they are renewed with calls. */
  private readonly unaryUntil = new Map<string, number>();
  private current: string;
  private redirects = 0;
  /**
   * Timeouts the endpoint a follower named as leader may have before this client moves on from it: one.
   * A new leader takes a whole fleet at once and answers late; moving on at its first timeout only asked
   * the follower again, which named the same leader (a refused call each), and every one of those
   * round trips cost the agents and the replicas alike. A leader that hangs still leaves, at the second.
   */
  private namedLeaderPatience = 0;
  /**
   * Until when (performance.now()) a follower vouched for the leader it named: it said a leader would
   * not be known sooner (it would not campaign before), so a timeout at that leader until then is the
   * leader being slow, and asking the follower again would only earn the same answer. A fleet whose new
   * leader answered late kept its one follower answering such refusals, and that follower's heartbeat
   * acks were what the leader was waiting for to answer renewals at all.
   */
  private namedLeaderVouchedUntilMs = 0;

  /**
   * `credentials` are insecure by default; with TLS credentials, coordinators must present a certificate
   * their CA signed. With `tokenFile`, every call carries the pod's ServiceAccount token, read afresh (the
   * kubelet rotates it); a renewal stream is reopened when the token changed.
   */
  constructor(
    endpoints: readonly string[],
    credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
    private readonly tokenFile: string | null = null,
    options: CoordinatorClientOptions = {},
  ) {
    this.configured = [...endpoints];
    this.current = this.configured[0]!;
    this.rounds = shuffled(this.configured);
    this.channels = options.channels ?? new AllocationChannels(credentials);
    this.ownsChannels = options.channels === undefined;
    this.renewOver = options.renewOver ?? 'stream';
  }

  get endpointCount(): number {
    return this.configured.length;
  }

  /** The endpoint the next call goes to. */
  get endpoint(): string {
    return this.current;
  }

  /** Calls a follower sent on to the leader it named (each one redirect). */
  get redirectsFollowed(): number {
    return this.redirects;
  }

  /** `signingMode` defaults to files, the strictest: an end without proof quarantines the keys. */
  async claim(podName: string, pool: string, count: number, timeoutMs: number, signingMode: SigningMode = 'files'): Promise<ClaimedKeys> {
    const response = await this.call<ClaimResponse__Output>((client, metadata, options, done) => client.Claim({ podName, pool, count, signingMode }, metadata, options, done), timeoutMs);
    return { leaseId: response.leaseId, leaseTtlMs: response.leaseTtlMs, genesisValidatorsRoot: response.genesisValidatorsRoot, genesisForkVersion: response.genesisForkVersion, keys: response.keys };
  }

  /**
   * On the endpoint's renewal stream; with a Renew call where the replica has no RenewStream (or the
   * client was made to renew with calls). `watermarks`: what was signed so far (remote-signer mode),
   * kept by the leader. `sentAtMs` is now on the caller's clock. With `reuseSentAfterMs`, a renewal of
   * this lease sent to this replica after that time and still unanswered is waited for rather than sent
   * again: the answer then names that renewal (its send time, its watermarks), which the lease runs from.
   */
  async renew(podName: string, leaseId: string, timeoutMs: number, watermarks: RenewWatermarks = {}, sentAtMs = performance.now(), reuseSentAfterMs = Infinity): Promise<Renewed & { readonly answered: AnsweredRenewal }> {
    const request = { podName, leaseId, slashingProtection: watermarks.slashingProtection ?? '', protectionVersion: watermarks.protectionVersion ?? '' };
    const endpoint = this.reachableEndpoint();
    if (this.renewOver === 'stream' && (this.unaryUntil.get(endpoint) ?? 0) < Date.now()) {
      try {
        const answer = await this.streamTo(endpoint, this.readToken()).renew(request, Math.max(1, timeoutMs), sentAtMs, reuseSentAfterMs);
        this.namedLeaderPatience = 0;
        this.namedLeaderVouchedUntilMs = 0;
        this.keepStreamsOpen(endpoint);
        const sent = answer.request;
        const answeredWatermarks: RenewWatermarks = {
          ...(sent.slashingProtection ? { slashingProtection: sent.slashingProtection } : {}),
          ...(sent.protectionVersion ? { protectionVersion: sent.protectionVersion } : {}),
        };
        return { leaseTtlMs: answer.response.leaseTtlMs, protectionVersion: answer.response.protectionVersion, answered: { sentAtMs: answer.sentAtMs, watermarks: answeredWatermarks } };
      } catch (error) {
        const failed = error as grpc.ServiceError;
        if (failed.code !== grpc.status.UNIMPLEMENTED) throw this.callError(endpoint, failed);
        this.unaryUntil.set(endpoint, Date.now() + UNARY_FALLBACK_MS);
      }
    }
    const response = await this.call<RenewResponse__Output>((client, metadata, options, done) => client.Renew(request, metadata, options, done), timeoutMs, false);
    return { leaseTtlMs: response.leaseTtlMs, protectionVersion: response.protectionVersion, answered: { sentAtMs, watermarks } };
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
    for (const stream of this.streams.values()) stream.close();
    this.streams.clear();
    if (this.ownsChannels) this.channels.close();
  }

  /**
   * After a renewal answered at `endpoint`: a renewal stream stays open, idle, to every other replica, so
   * that when the leader dies the next renewals are messages on streams already open, not new streams
   * (and, for a pod, new connections) opened by the whole fleet at the new leader in the same second.
   * Measured with 10,000 pods (bench:fleet): every pod fenced with streams opened at the failover, none
   * with them kept open, and the new leader answered all 10,000 within 4.4 s of the SIGKILL.
   */
  private keepStreamsOpen(endpoint: string): void {
    const token = this.streams.get(endpoint)?.token ?? null;
    for (const other of this.configured) {
      if (other === endpoint || (this.unaryUntil.get(other) ?? 0) >= Date.now()) continue;
      const existing = this.streams.get(other);
      if (existing?.open) continue;
      // A replica from before RenewStream: renewed with calls there, and no stream kept open.
      if (existing?.endedWithStatus === grpc.status.UNIMPLEMENTED) {
        this.unaryUntil.set(other, Date.now() + UNARY_FALLBACK_MS);
        continue;
      }
      if (!this.unreachable(other)) this.streamTo(other, token);
    }
  }

  /** The open renewal stream to `endpoint` with this token, or a new one. */
  private streamTo(endpoint: string, token: string | null): RenewalStream {
    const existing = this.streams.get(endpoint);
    if (existing?.open && existing.token === token) return existing;
    existing?.close();
    const stream = new RenewalStream(this.channels.for(endpoint), token);
    this.streams.set(endpoint, stream);
    return stream;
  }

  /**
   * A replica whose last connection attempt failed (killed, not listening) is waiting out its reconnect
   * backoff: grpc-js would fail a call there at once anyway. Failing it here costs no call, no stream and
   * no stack, which counted when a whole fleet's renewals tried a dead leader again and again.
   */
  private unreachable(endpoint: string): boolean {
    return this.channels.for(endpoint).getChannel().getConnectivityState(true) === grpc.connectivityState.TRANSIENT_FAILURE;
  }

  /** The endpoint the next call goes to, past any replica that is unreachable (moving on from it). */
  private reachableEndpoint(): string {
    for (let tried = 0; tried < this.rounds.length && this.unreachable(this.current); tried++) this.moveOn();
    if (this.unreachable(this.current)) throw withoutStack(() => new CoordinatorCallError(grpc.status.UNAVAILABLE, null, `no coordinator replica is reachable: the last connection attempt to each of ${this.configured.join(', ')} failed`));
    return this.current;
  }

  private readToken(): string | null {
    return this.tokenFile ? readFileSync(this.tokenFile, 'utf8').trim() : null;
  }

  /**
   * `redirect: false` for renewals: across a failover a follower may still name the leader that died,
   * and a redirect there would spend the attempt's short deadline waiting on a dead connection (the
   * fleet-failover test fenced with it). The renewal loop asks the named leader at once, in a new attempt.
   */
  private call<T>(invoke: Invocation<T>, timeoutMs: number, redirect = true): Promise<T> {
    let endpoint: string;
    try {
      endpoint = this.reachableEndpoint();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.callAt(endpoint, invoke, Date.now() + Math.max(1, timeoutMs), this.readToken(), redirect);
  }

  /** One attempt at `endpoint`; a follower's refusal that names the leader is followed once, right away. */
  private callAt<T>(endpoint: string, invoke: Invocation<T>, deadline: number, token: string | null, mayRedirect: boolean): Promise<T> {
    const client = this.channels.for(endpoint);
    return new Promise<T>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      if (token) metadata.set('authorization', `Bearer ${token}`);
      invoke(client, metadata, { deadline }, (error, value) => {
        if (!error) {
          resolve(value as T);
          return;
        }
        const failed = this.callError(endpoint, error);
        const leader = error.metadata?.get(LEADER_TRAILER)[0];
        // Not applied here, and the leader is named: the same request cannot apply twice.
        // A named leader that cannot be reached (the one that died, until the follower's election timer
        // fires) is not followed: the refusal goes back, and the next call goes past it.
        if (mayRedirect && failed.notApplied && leader !== undefined && String(leader) !== endpoint && Date.now() < deadline && !this.unreachable(String(leader))) {
          this.redirects++;
          resolve(this.callAt(String(leader), invoke, deadline, token, false));
          return;
        }
        reject(failed);
      });
    });
  }

  /** What a failure at `endpoint` says, read from its trailers; the next call goes to the named leader, or on after a dead or hung replica. */
  private callError(endpoint: string, error: grpc.ServiceError): CoordinatorCallError {
    const refusal = error.metadata?.get(REFUSAL_CODE_TRAILER)[0];
    const leader = error.metadata?.get(LEADER_TRAILER)[0];
    const notApplied = error.metadata?.get(NOT_APPLIED_TRAILER)[0] !== undefined;
    const retryAfterMs = Number(error.metadata?.get(RETRY_AFTER_TRAILER)[0] ?? NaN);
    if (leader !== undefined) {
      this.current = String(leader);
      const other = String(leader) !== endpoint;
      this.namedLeaderPatience = other ? 1 : 0;
      this.namedLeaderVouchedUntilMs = other && Number.isFinite(retryAfterMs) ? performance.now() + retryAfterMs : 0;
    } else if ((error.code === grpc.status.UNAVAILABLE || error.code === grpc.status.DEADLINE_EXCEEDED || error.code === grpc.status.CANCELLED) && this.current === endpoint) {
      // CANCELLED: the replica dropped the call (a server shut down hard cancels its streams). A timeout
      // at a leader a follower named may be waited out there: the next attempt waits for what this one sent.
      if (!(error.code === grpc.status.DEADLINE_EXCEEDED && this.patientWith())) this.moveOn();
    }
    const leaderId = error.metadata?.get(LEADER_ID_TRAILER)[0];
    return withoutStack(() => new CoordinatorCallError(error.code, refusal === undefined ? null : String(refusal), error.details || error.message, notApplied, leaderId === undefined ? null : String(leaderId), Number.isFinite(retryAfterMs) && retryAfterMs >= 0 ? retryAfterMs : null));
  }

  /** After a timeout at the leader a follower named: whether to stay (vouched for still, or the one extra attempt). */
  private patientWith(): boolean {
    if (performance.now() < this.namedLeaderVouchedUntilMs) return true;
    if (this.namedLeaderPatience === 0) return false;
    this.namedLeaderPatience--;
    return true;
  }

  private moveOn(): void {
    this.namedLeaderPatience = 0;
    this.namedLeaderVouchedUntilMs = 0;
    const at = this.rounds.indexOf(this.current);
    this.current = this.rounds[(at + 1) % this.rounds.length]!;
  }
}

function shuffled<T>(items: readonly T[]): T[] {
  const order = [...items];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}
