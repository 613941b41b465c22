import * as grpc from '@grpc/grpc-js';
import type { PodRef, Refusal, Result, SigningMode } from '../core/index.js';
import type { AllocationService } from '../allocation/allocation-service.js';
import { KeyleaseError } from '../../shared/errors/keylease-error.js';
import { NotLeaderError } from '../replication/errors.js';
import { ClaimsBusyError } from '../allocation/claim-admission.js';
import type { AgentIdentity } from '../identity/agent-identity.js';
import { PodIdentityError, type IdentityRefusalKind } from '../identity/identity-error.js';
import type { Logger } from '../../shared/log/logger.js';
import { keyleaseProto, type AllocationHandlers, type RenewRequest__Output, type RenewResponse } from '../../shared/proto/load.js';
import { reloadingServerCredentials } from '../../shared/tls/grpc-credentials.js';
import type { ReloadingTls } from '../../shared/tls/reloading-tls.js';
import { GRPC_STATUS_OF_REFUSAL } from './grpc-status.js';
import type { CoordinatorMetrics, Operation } from './metrics.js';

/** Trailer naming the refusal code, so agents act on the code rather than parse messages. */
export const REFUSAL_CODE_TRAILER = 'keylease-refusal-code';

type ServiceError = Partial<grpc.StatusObject>;

function refusalError(refusal: Refusal): ServiceError {
  const metadata = new grpc.Metadata();
  metadata.set(REFUSAL_CODE_TRAILER, refusal.code);
  return { code: GRPC_STATUS_OF_REFUSAL[refusal.code], details: refusal.message, metadata };
}

/** Trailers naming the leader's agent endpoint and replica id when a follower is asked: the agent goes there. */
export const LEADER_TRAILER = 'keylease-leader';
export const LEADER_ID_TRAILER = 'keylease-leader-id';

/** The leader as a follower knows it. */
export interface KnownLeader {
  readonly replicaId: string;
  readonly agentEndpoint: string;
}

/** Failures that another replica, or the same one a moment later, may not have: the agent retries. */
const RETRYABLE = new Set(['NOT_LEADER', 'LOG_CLOSED', 'PROPOSAL_TIMEOUT', 'OUTCOME_UNKNOWN', 'REPLICA_STOPPED', 'CHAIN_LOOKUP']);

/** Trailer of a busy refusal: milliseconds after which the leader expects to have room for the request. */
export const RETRY_AFTER_TRAILER = 'keylease-retry-after-ms';

/** Trailer set when the request certainly had no effect (it reached no leader), as opposed to unknown. */
export const NOT_APPLIED_TRAILER = 'keylease-not-applied';

const IDENTITY_STATUS: Record<IdentityRefusalKind, grpc.status> = {
  unauthenticated: grpc.status.UNAUTHENTICATED,
  forbidden: grpc.status.PERMISSION_DENIED,
  unavailable: grpc.status.UNAVAILABLE,
};

function failureError(error: unknown, logger: Logger, operation: Operation, knownLeader: () => KnownLeader | null): ServiceError {
  if (error instanceof PodIdentityError) {
    const metadata = new grpc.Metadata();
    metadata.set(REFUSAL_CODE_TRAILER, error.code);
    return { code: IDENTITY_STATUS[error.kind], details: error.message, metadata };
  }
  if (error instanceof ClaimsBusyError) {
    // Not queued, not started: the agent retries here when told, not at another replica.
    const metadata = new grpc.Metadata();
    metadata.set(REFUSAL_CODE_TRAILER, error.code);
    metadata.set(NOT_APPLIED_TRAILER, '1');
    metadata.set(RETRY_AFTER_TRAILER, String(error.retryAfterMs));
    return { code: grpc.status.RESOURCE_EXHAUSTED, details: error.message, metadata };
  }
  if (error instanceof NotLeaderError) {
    // Whoever threw it (the log, the allocation service, the lease keeper), the leader is named here.
    const leader = knownLeader();
    const metadata = notAppliedTrailers(leader);
    if (!leader) return { code: grpc.status.UNAVAILABLE, details: error.message, metadata };
    return { code: grpc.status.UNAVAILABLE, details: `this replica is not the leader; replica ${leader.replicaId} leads and takes agent calls at ${leader.agentEndpoint}`, metadata };
  }
  if (error instanceof KeyleaseError && RETRYABLE.has(error.code)) {
    return { code: grpc.status.UNAVAILABLE, details: error.message };
  }
  // Unexpected failures are logged here and reach the caller without internals.
  logger.error('request failed', { operation, error });
  return { code: grpc.status.INTERNAL, details: `the coordinator could not complete the ${operation}; see its logs` };
}

/** A renewal stream ended by this replica's shutdown: nothing was applied; the agent renews elsewhere, at the leader if known. */
function shuttingDownError(knownLeader: () => KnownLeader | null): ServiceError {
  const leader = knownLeader();
  return { code: grpc.status.UNAVAILABLE, details: `this replica is shutting down: renew at another replica${leader ? ` (replica ${leader.replicaId} leads, at ${leader.agentEndpoint})` : ''}`, metadata: notAppliedTrailers(leader) };
}

/** Trailers of a request that had no effect here, naming the leader (when known) for the agent to go to. */
function notAppliedTrailers(leader: KnownLeader | null): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set(NOT_APPLIED_TRAILER, '1');
  if (leader) {
    metadata.set(LEADER_TRAILER, leader.agentEndpoint);
    metadata.set(LEADER_ID_TRAILER, leader.replicaId);
  }
  return metadata;
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
  metrics: CoordinatorMetrics;
  logger: Logger;
}): Promise<GrpcServerHandle> {
  const knownLeader = options.knownLeader ?? (() => null);
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
            else callback(refusalError(result.refusal));
          },
          (error: unknown) => {
            stopTimer({ outcome: error instanceof ClaimsBusyError ? 'busy' : 'error' });
            callback(failureError(error, logger, operation, knownLeader));
          },
        );
    };
  }

  /** The open renewal streams, ended when the server closes: they would hold its shutdown until they time out. */
  const openStreams = new Set<(error: ServiceError) => void>();

  /**
   * One agent's renewals on a long-lived stream, each checked (the stream's token, the pod) and answered
   * as Renew answers it, echoing its sequence. The first refusal or failure ends the stream with Renew's
   * status and trailers; the agent opens a new stream for its next renewal.
   */
  function renewStream(call: grpc.ServerDuplexStream<RenewRequest__Output, RenewResponse>): void {
    let ended = false;
    let inFlight = 0;
    let halfClosed = false;
    const end = (error?: ServiceError) => {
      openStreams.delete(end);
      if (ended) return;
      ended = true;
      if (error) call.emit('error', error);
      else call.end();
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
            if (!result.ok) end(refusalError(result.refusal));
            else if (!ended && !call.cancelled) call.write({ leaseTtlMs: result.value.ttlMs, protectionVersion: result.value.protectionVersion, sequence: request.sequence });
          },
          (error: unknown) => {
            stopTimer({ outcome: 'error' });
            end(failureError(error, logger, 'renew', knownLeader));
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
        for (const end of [...openStreams]) end(shuttingDownError(knownLeader));
        const force = setTimeout(() => server.forceShutdown(), 5000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
