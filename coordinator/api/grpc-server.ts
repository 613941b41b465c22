import * as grpc from '@grpc/grpc-js';
import type { PodRef, Refusal, Result, SigningMode } from '../core/index.js';
import type { AllocationService } from '../allocation/allocation-service.js';
import { KeyleaseError } from '../../shared/errors/keylease-error.js';
import { NotLeaderError } from '../replication/errors.js';
import { ClaimsBusyError } from '../allocation/claim-admission.js';
import type { AgentIdentity } from '../identity/agent-identity.js';
import { PodIdentityError, type IdentityRefusalKind } from '../identity/identity-error.js';
import type { Logger } from '../../shared/log/logger.js';
import { keyleaseProto, type AllocationHandlers, type RenewRefusal, type RenewRequest__Output, type RenewResponse } from '../../shared/proto/load.js';
import { reloadingServerCredentials } from '../../shared/tls/grpc-credentials.js';
import type { ReloadingTls } from '../../shared/tls/reloading-tls.js';
import { LEADER_ID_TRAILER, LEADER_TRAILER, NOT_APPLIED_TRAILER, REFUSAL_CODE_TRAILER, RENEW_REFUSALS_HEADER, RETRY_AFTER_TRAILER } from '../../shared/proto/agent-metadata.js';
import { GRPC_STATUS_OF_REFUSAL } from './grpc-status.js';
import type { CoordinatorMetrics, Operation } from './metrics.js';

type ServiceError = Partial<grpc.StatusObject>;

/**
 * A refused or failed call as plain data: rendered as a status with trailers (serviceError) or, on a
 * renewal stream asking for it, as a RenewRefusal message (inBandRefusal), which then costs no Metadata.
 */
interface CallFailure {
  readonly code: grpc.status;
  readonly details: string;
  /** The coordinator's refusal code (REFUSAL_CODE_TRAILER). */
  readonly refusalCode?: string;
  /** The call certainly had no effect (NOT_APPLIED_TRAILER). */
  readonly notApplied?: boolean;
  /** The leader, named for the agent to go to. */
  readonly leader?: KnownLeader | null;
  /** When to ask again (RETRY_AFTER_TRAILER). */
  readonly retryAfterMs?: number | null;
}

function refusalFailure(refusal: Refusal): CallFailure {
  return { code: GRPC_STATUS_OF_REFUSAL[refusal.code], details: refusal.message, refusalCode: refusal.code };
}

/** The leader as a follower knows it. */
export interface KnownLeader {
  readonly replicaId: string;
  readonly agentEndpoint: string;
}

/** Failures that another replica, or the same one a moment later, may not have: the agent retries. */
const RETRYABLE = new Set(['NOT_LEADER', 'LOG_CLOSED', 'PROPOSAL_TIMEOUT', 'OUTCOME_UNKNOWN', 'REPLICA_STOPPED', 'CHAIN_LOOKUP', 'POOL_NOT_READY']);

const IDENTITY_STATUS: Record<IdentityRefusalKind, grpc.status> = {
  unauthenticated: grpc.status.UNAUTHENTICATED,
  forbidden: grpc.status.PERMISSION_DENIED,
  unavailable: grpc.status.UNAVAILABLE,
};

/** What a follower knows of the leader: who it is, and when one may next be known. */
interface LeaderView {
  readonly knownLeader: () => KnownLeader | null;
  readonly leaderKnownInMs: () => number | null;
}

function callFailure(error: unknown, logger: Logger, operation: Operation, view: LeaderView): CallFailure {
  if (error instanceof PodIdentityError) return { code: IDENTITY_STATUS[error.kind], details: error.message, refusalCode: error.code };
  if (error instanceof ClaimsBusyError) {
    // Not queued, not started: the agent retries here when told, not at another replica.
    return { code: grpc.status.RESOURCE_EXHAUSTED, details: error.message, refusalCode: error.code, notApplied: true, retryAfterMs: error.retryAfterMs };
  }
  if (error instanceof NotLeaderError) {
    // Whoever threw it (the log, the allocation service, the lease keeper), the leader is named here.
    const leader = view.knownLeader();
    // When to ask again if the named leader cannot be reached, or none is named: an agent that waits that
    // long instead of asking round the replicas leaves the electing replicas their CPU.
    const knownInMs = view.leaderKnownInMs();
    const retryAfterMs = knownInMs === null ? null : Math.max(1, Math.round(knownInMs));
    const details = leader ? `this replica is not the leader; replica ${leader.replicaId} leads and takes agent calls at ${leader.agentEndpoint}` : error.message;
    return { code: grpc.status.UNAVAILABLE, details, notApplied: true, leader, retryAfterMs };
  }
  if (error instanceof KeyleaseError && RETRYABLE.has(error.code)) return { code: grpc.status.UNAVAILABLE, details: error.message };
  // Unexpected failures are logged here and reach the caller without internals.
  logger.error('request failed', { operation, error });
  return { code: grpc.status.INTERNAL, details: `the coordinator could not complete the ${operation}; see its logs` };
}

/** A renewal stream ended by this replica's shutdown: nothing was applied; the agent renews elsewhere, at the leader if known. */
function shuttingDown(knownLeader: () => KnownLeader | null): CallFailure {
  const leader = knownLeader();
  return { code: grpc.status.UNAVAILABLE, details: `this replica is shutting down: renew at another replica${leader ? ` (replica ${leader.replicaId} leads, at ${leader.agentEndpoint})` : ''}`, notApplied: true, leader };
}

/** A failure as a gRPC status with keylease's trailers. */
function serviceError(failure: CallFailure): ServiceError {
  const metadata = new grpc.Metadata();
  if (failure.refusalCode) metadata.set(REFUSAL_CODE_TRAILER, failure.refusalCode);
  if (failure.notApplied) metadata.set(NOT_APPLIED_TRAILER, '1');
  if (failure.leader) {
    metadata.set(LEADER_TRAILER, failure.leader.agentEndpoint);
    metadata.set(LEADER_ID_TRAILER, failure.leader.replicaId);
  }
  if (failure.retryAfterMs !== undefined && failure.retryAfterMs !== null) metadata.set(RETRY_AFTER_TRAILER, String(failure.retryAfterMs));
  return { code: failure.code, details: failure.details, metadata };
}

/** A failure as a RenewStream message: what Renew's status and trailers would say. */
function inBandRefusal(failure: CallFailure): RenewRefusal {
  return {
    status: failure.code,
    refusalCode: failure.refusalCode ?? '',
    message: failure.details,
    notApplied: failure.notApplied === true,
    leaderEndpoint: failure.leader?.agentEndpoint ?? '',
    leaderId: failure.leader?.replicaId ?? '',
    retryAfterMs: failure.retryAfterMs ?? 0,
  };
}

/** The agent's declared signing mode; an empty or unknown one is passed on as given and refused by the core, naming it. */
function signingModeOf(value: string): SigningMode {
  return (value === '' ? 'unknown' : value) as SigningMode;
}

export interface GrpcServerHandle {
  readonly port: number;
  close(): Promise<void>;
}

export async function startGrpcServer(options: {
  host: string;
  port: number;
  /** Agents are served over TLS with the current certificate (reloaded when its files change); they prove who they are by token. */
  tls: ReloadingTls | null;
  /** Kubernetes pod identity; null in development, where agents are trusted to name their pod. */
  identity: AgentIdentity | null;
  allocation: AllocationService;
  /** The leader this replica knows of, when it is another replica; null while it knows none, or leads. */
  knownLeader?: () => KnownLeader | null;
  /** Milliseconds until this replica expects a leader to be known (its election timer); null when it leads. */
  leaderKnownInMs?: () => number | null;
  metrics: CoordinatorMetrics;
  logger: Logger;
}): Promise<GrpcServerHandle> {
  const knownLeader = options.knownLeader ?? (() => null);
  const leaderView: LeaderView = { knownLeader, leaderKnownInMs: options.leaderKnownInMs ?? (() => null) };
  const { allocation, metrics, logger } = options;

  /** The pod a call acts for: from its token's review when identity is on, never from the request alone. */
  const podFor = async (metadata: grpc.Metadata, podName: string, pool: string | null): Promise<PodRef> => {
    if (!options.identity) return { podName, podUid: null };
    const token = String(metadata.get('authorization')[0] ?? '').replace(/^Bearer\s+/i, '');
    return options.identity.podFor(token, podName, pool);
  };

  /** Times a request and maps its result or failure to a gRPC answer. */
  function handle<Req extends { podName: string }, Res, Out>(
    operation: Operation,
    run: (request: Req, pod: PodRef) => Promise<Result<Out>> | Result<Out>,
    toResponse: (value: Out) => Res,
  ) {
    return (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => {
      const stopTimer = metrics.requestSeconds.startTimer({ operation });
      const pool = operation === 'claim' ? (call.request as unknown as { pool: string }).pool : null;
      podFor(call.metadata, call.request.podName, pool)
        .then((pod) => run(call.request, pod))
        .then(
          (result) => {
            stopTimer({ outcome: result.ok ? 'ok' : result.refusal.code });
            if (result.ok) callback(null, toResponse(result.value));
            else callback(serviceError(refusalFailure(result.refusal)));
          },
          (error: unknown) => {
            stopTimer({ outcome: error instanceof ClaimsBusyError ? 'busy' : 'error' });
            callback(serviceError(callFailure(error, logger, operation, leaderView)));
          },
        );
    };
  }

  /** The open renewal streams, ended when the server closes: they would hold its shutdown until they time out. */
  const openStreams = new Set<(failure: CallFailure) => void>();

  /**
   * One agent's renewals on a long-lived stream, each checked (the stream's token, the pod) and answered
   * as Renew answers it, echoing its sequence. A refusal or failure is answered as a message when the
   * agent opened the stream asking for that (RENEW_REFUSALS_HEADER), and the stream stays open: across a
   * failover a follower refuses a whole fleet's renewals, and a stream ended for each was a new stream
   * for each next one, several times the cost of a message on both sides. Otherwise, for agents from
   * before, the first refusal or failure ends the stream with Renew's status and trailers.
   */
  function renewStream(call: grpc.ServerDuplexStream<RenewRequest__Output, RenewResponse>): void {
    const inBand = call.metadata.get(RENEW_REFUSALS_HEADER)[0] === 'in-band';
    let ended = false;
    let inFlight = 0;
    let halfClosed = false;
    const end = (failure?: CallFailure) => {
      openStreams.delete(end);
      if (ended) return;
      ended = true;
      if (failure) call.emit('error', serviceError(failure));
      else call.end();
    };
    const refuse = (failure: CallFailure, sequence: number) => {
      if (!inBand) end(failure);
      else if (!ended && !call.cancelled) call.write({ sequence, refusal: inBandRefusal(failure) });
    };
    openStreams.add(end);
    call.on('data', (request: RenewRequest__Output) => {
      if (ended) return;
      inFlight++;
      const stopTimer = metrics.requestSeconds.startTimer({ operation: 'renew' });
      podFor(call.metadata, request.podName, null)
        .then((pod) => allocation.renew(pod, request.leaseId, request.slashingProtection, request.protectionVersion))
        .then(
          (result) => {
            stopTimer({ outcome: result.ok ? 'ok' : result.refusal.code });
            if (!result.ok) refuse(refusalFailure(result.refusal), request.sequence);
            else if (!ended && !call.cancelled) call.write({ leaseTtlMs: result.value.ttlMs, protectionVersion: result.value.protectionVersion, sequence: request.sequence });
          },
          (error: unknown) => {
            stopTimer({ outcome: 'error' });
            refuse(callFailure(error, logger, 'renew', leaderView), request.sequence);
          },
        )
        .finally(() => {
          inFlight--;
          if (halfClosed && inFlight === 0) end();
        });
    });
    // The agent closed its side: answer what it sent, then close ours.
    call.on('end', () => {
      halfClosed = true;
      if (inFlight === 0) end();
    });
    call.on('cancelled', () => {
      ended = true;
      openStreams.delete(end);
    });
  }

  const handlers: AllocationHandlers = {
    Claim: handle(
      'claim',
      (request, pod) => allocation.claim(pod, request.pool, request.count, signingModeOf(request.signingMode)),
      (grant) => ({
        leaseId: grant.lease.leaseId,
        leaseTtlMs: grant.lease.ttlMs,
        genesisValidatorsRoot: grant.genesisValidatorsRoot,
        genesisForkVersion: grant.genesisForkVersion,
        keys: grant.keys.map((key) => ({ pubKey: key.pubKey, keystoreJson: key.keystoreJson, keystorePassword: key.keystorePassword, slashingProtection: key.slashingProtection })),
      }),
    ),
    Renew: handle('renew', (request, pod) => allocation.renew(pod, request.leaseId, request.slashingProtection, request.protectionVersion), (value) => ({ leaseTtlMs: value.ttlMs, protectionVersion: value.protectionVersion })),
    RenewStream: renewStream,
    Release: handle('release', (request, pod) => allocation.release(pod, request.leaseId, {
          requestId: request.requestId,
          slashingProtection: request.slashingProtection,
          // Anything but released or fenced is refused by the core, naming the value.
          ...(request.reason ? { reason: request.reason as 'released' | 'fenced' } : {}),
        }), (value) => ({ quarantined: [...value.quarantined] })),
    ReportRemoved: handle('report_removed', (request, pod) => allocation.reportRemoved(pod, request.pubKeys, request.slashingProtection), (value) => ({ returned: [...value.returned] })),
  };

  // Channelz keeps per-call statistics that nothing here reads, at a cost on every call.
  const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
  server.addService(keyleaseProto().keylease.v1.Allocation.service, handlers);
  const credentials = options.tls ? reloadingServerCredentials(options.tls, { requireClientCertificate: false }) : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`, credentials, (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const end of [...openStreams]) end(shuttingDown(knownLeader));
        const force = setTimeout(() => server.forceShutdown(), 5000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
