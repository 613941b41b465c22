import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReadonlyCoreState } from './core/index.js';
import { AllocationService } from './allocation/allocation-service.js';
import { ClaimAdmission } from './allocation/claim-admission.js';
import { startGrpcServer, type KnownLeader } from './api/grpc-server.js';
import { startHttpServer } from './api/http-server.js';
import { CoordinatorMetrics } from './api/metrics.js';
import { loadAdminToken } from './api/admin-token.js';
import { readKek } from './keys/kek.js';
import { mnemonicToSeed } from './keys/derive.js';
import { readMnemonicFile } from './keys/mnemonic-file.js';
import { PoolSecrets } from './keys/pool-secrets.js';
import { LeaseKeeper } from './leases/lease-keeper.js';
import { QuarantineKeeper } from './leases/quarantine-keeper.js';
import { SingleReplicaLog } from './replication/single-replica-log.js';
import { raftDirectory, replicaDirectory, type ChainConfig, type CoordinatorConfig, type DepositConfig } from './config.js';
import { DepositKeeper } from './deposits/deposit-keeper.js';
import { BeaconValidators } from './deposits/beacon-validators.js';
import { ChainLookup } from './deposits/chain-lookup.js';
import { DepositEventReader } from './deposits/deposit-event-reader.js';
import { PoolRestorer } from './restore/pool-restorer.js';
import { listenOn } from '../shared/net/listen.js';
import { describeNetwork } from './startup-network.js';
import type { KubernetesAgentIdentity } from './k8s/agent-identity.js';
import { watchFileSet } from '../shared/files/watch-file-set.js';
import { DepositDataExporter } from './deposits/deposit-data-export.js';
import { DepositSender } from './deposits/deposit-sender.js';
import { runPeriodically } from './periodic.js';
import { EventLoopPressure, SheddableRounds } from './load/event-loop-pressure.js';
import { RaftReplicatedLog } from './replication/raft/raft-replicated-log.js';
import type { ReplicatedLog } from './replication/types.js';
import { checkSecretsMatchPool } from './startup-checks.js';
import { ConfigError } from '../shared/errors/keylease-error.js';
import { systemClock, type Clock } from '../shared/clock/clock.js';
import type { Logger } from '../shared/log/logger.js';
import { ReloadingTls } from '../shared/tls/reloading-tls.js';

/** How often the leader looks for overdue leases and cooled keys. */
const LEASE_TICK_MS = 100;
/** How often the leader looks for quarantined keys whose last pod is gone (it reads every key). */
const QUARANTINE_TICK_MS = 2000;
/** How often the leader signs, broadcasts and confirms deposits. */
const DEPOSIT_TICK_MS = 500;
/**
 * Keys the leader's claims in flight may ask for, and while short of CPU; more claims wait for a place,
 * then are refused unstarted (agents retry). Claims in flight are committed together, so the claim rate
 * is about this bound over the commit round trip; but each key of an answer costs CPU (it is opened and
 * its protection built), and a claim answered too late is fenced by its agent at once. Counting claims
 * (64, 8 under pressure) held 10,000 one-key pods to tens of claims a second; 512 claims of 50 keys each
 * were answered so late together that every pod fenced.
 */
const MAX_CLAIMED_KEYS_IN_FLIGHT = 1024;
const MAX_CLAIMED_KEYS_UNDER_PRESSURE = 128;
/** A claim waits for a place at most this share of the lease TTL: its agent must still have time to renew. */
const CLAIM_WAIT_SHARE_OF_TTL = 0.25;
/** Under CPU pressure, deposit and quarantine rounds run at most this often (not every tick, never not at all). */
const SHED_ROUND_MS = 10_000;
/** Keys and leases from which /assignments pages wait out CPU pressure. */
const LARGE_PAGE_ITEMS = 10_000;
/** The window over which event loop delay is judged for load shedding. */
const PRESSURE_WINDOW_MS = 500;

export interface RunningCoordinator {
  readonly grpcPort: number;
  readonly httpPort: number;
  /** Stops taking requests, lets in-flight ones finish, and closes the database. */
  close(): Promise<void>;
}

export async function startCoordinator(config: CoordinatorConfig, logger: Logger, clock: Clock = systemClock): Promise<RunningCoordinator> {
  const kek = await readKek(config.kekFile);
  const seeds = new Map<string, Uint8Array>();
  if (config.mnemonicFile) seeds.set(config.pool, mnemonicToSeed(await readMnemonicFile(config.mnemonicFile)));
  // Renewals come first: under CPU pressure, background work waits (derivation, deposits, pages).
  const pressure = new EventLoopPressure(config.shedAboveMs, PRESSURE_WINDOW_MS, (under, p99Ms) =>
    under
      ? logger.warn('CPU pressure: event loop delay is high; derivation, deposit rounds and /assignments pages wait so renewals are answered first', { delayP99Ms: Math.round(p99Ms) })
      : logger.info('CPU pressure over: background work resumes', { delayP99Ms: Math.round(p99Ms) }),
  );
  // Under pressure derivation goes on, on one thread: a claim waiting for keys still gets them.
  const secrets = new PoolSecrets(kek, seeds, { derivationWorkers: () => (pressure.shouldShed('derivation') ? 1 : Infinity) });

  try {
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new ConfigError(`cannot create --data-dir ${config.dataDir}: check the path and its permissions`, { cause });
  }
  // Certificates, keys and CA bundles rotated on disk apply to new connections without a restart.
  const tls = config.tls ? await ReloadingTls.watch(config.tls, { logger: logger.child({ component: 'tls' }), wallMs: () => clock.wallMs() }) : null;
  let log: ReplicatedLog;
  try {
    log = config.raft ? await listenOn(config.raft.listen, 'raft-listen', () => openLog(config, tls, logger)) : await openLog(config, tls, logger);
  } catch (error) {
    tls?.close();
    throw error;
  }
  const closers: Array<() => Promise<void>> = [async () => pressure.close(), async () => tls?.close(), () => log.close(), () => secrets.close()];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close();
  };
  try {
    const checkSecrets = (state: ReadonlyCoreState) => checkSecretsMatchPool(state, config.pool, secrets, seeds.get(config.pool));
    if (log instanceof RaftReplicatedLog) await log.recoveredState(checkSecrets);
    else await log.read(checkSecrets);
    // The leader brings the replicated pool settings in line with the flags, each time one is elected.
    // Claims that reach a new leader before its pool exists wait for this (see AllocationOptions.poolSetup).
    let poolSetup: Promise<void> | null = null;
    const configure = () => {
      const setup = configurePool(log, config, clock, logger)
        .catch((error: unknown) => logger.warn('configuring the pool failed; the next leader will retry', { error }))
        .finally(() => {
          if (poolSetup === setup) poolSetup = null;
        });
      poolSetup = setup;
    };
    const off = log.onLeadershipChange((isLeader) => void (isLeader && configure()));
    closers.push(async () => off());
    if (log.isLeader()) await configurePool(log, config, clock, logger);

    const metrics = new CoordinatorMetrics(() => log.read((s) => s as ReadonlyCoreState).catch(() => null));
    if (tls) metrics.reportCertificateExpiry(() => tls.current.certNotAfterMs);
    if (log instanceof RaftReplicatedLog) metrics.reportRaft(() => log.status());
    secrets.observeDerivation(metrics.derivationObserver(config.pool));
    metrics.reportPressure(pressure);
    const leases = new LeaseKeeper(log, clock, logger.child({ component: 'leases' }), metrics);
    await leases.start();
    closers.push(async () => leases.stop());
    const exporter =
      config.deposits?.mode === 'export'
        ? new DepositDataExporter(secrets, { network: config.network, withdrawalCredentials: config.deposits.withdrawalCredentials, outDir: join(config.dataDir, 'deposit-data') }, clock, logger.child({ component: 'deposits' }))
        : null;
    // The chain is where keys in use elsewhere show: looked up before one is paid for or handed out.
    const sender = config.deposits?.mode === 'submit' ? await startDepositSender(config.deposits, config.chain!) : null;
    if (sender) closers.push(async () => sender.close());
    const lookup = config.chain ? await startChainLookup(config.chain, sender) : null;
    if (lookup) closers.push(async () => lookup.close());
    logger.info('network', await describeNetwork(config, sender));
    if (!lookup && seeds.has(config.pool)) {
      logger.warn('derived keys are not looked up on chain (no --eth-rpc-url or --beacon-url): a data directory restored or started afresh under a mnemonic already in use would hand out keys that may be signing elsewhere');
    }
    const restorer =
      lookup && seeds.has(config.pool) && config.chain!.restoreGap > 0
        ? new PoolRestorer(log, secrets, lookup.chain, { pool: config.pool, gap: config.chain!.restoreGap }, clock, logger.child({ component: 'restore' }))
        : null;
    const allocation = new AllocationService(log, secrets, leases, clock, logger.child({ component: 'allocation' }), {
      observer: metrics,
      onKeysDerived: exporter ? (_pool, keys) => exporter.export(keys) : null,
      genesisForkVersion: config.genesisForkVersion,
      beforeDerive: restorer ? () => restorer.ensureScanned() : null,
      // Enough claims at once to fill the log's batches; fewer while the CPU is short, so renewals keep it.
      admission: new ClaimAdmission(
        () => (pressure.underPressure ? MAX_CLAIMED_KEYS_UNDER_PRESSURE : MAX_CLAIMED_KEYS_IN_FLIGHT),
        () => config.poolSettings.leaseTtlMs * CLAIM_WAIT_SHARE_OF_TTL,
      ),
      configuredPool: config.pool,
      poolSetup: () => poolSetup,
    });
    if (restorer) {
      const offRestorer = log.onLeadershipChange((isLeader) => restorer.onLeadershipChange(isLeader));
      closers.push(async () => offRestorer());
      if (log.isLeader()) restorer.onLeadershipChange(true);
    }
    if (config.poolSettings.genesisTimeMs === undefined) {
      logger.warn('no slot clock for this network (--genesis-time): keys whose last holder ended without handing back its slashing protection wait for an operator instead of returning with watermarks from the clock');
    }

    closers.push(runPeriodically(LEASE_TICK_MS, () => leases.tick(), (error) => logger.warn('lease tick failed', { error })));
    if (sender && config.deposits) {
      const keeper = new DepositKeeper(
        log,
        secrets,
        sender,
        lookup!.chain,
        { pool: config.pool, network: config.chain!.depositNetwork!, withdrawalCredentials: config.deposits.withdrawalCredentials, confirmations: config.deposits.confirmations },
        clock,
        logger.child({ component: 'deposits' }),
      );
      const depositRounds = new SheddableRounds(pressure, 'deposits', SHED_ROUND_MS);
      closers.push(runPeriodically(DEPOSIT_TICK_MS, () => depositRounds.run(() => keeper.tick()), (error) => logger.warn('deposit round failed; will retry', { error })));
    }

    const adminToken = await loadAdminToken(config.dataDir, config.apiTokenFile);
    // A Secret mounted as the token file is rotated in place: the new token applies without a restart.
    let currentToken = adminToken.token;
    const tokenWatch = await watchFileSet(
      [adminToken.path],
      (files) => {
        const next = files.get(adminToken.path)?.toString('utf8').trim() ?? '';
        if (next.length < 16) throw new ConfigError(`the new admin token in ${adminToken.path} is shorter than 16 characters; the old one stays`);
        currentToken = next;
        logger.info('admin token reloaded', { file: adminToken.path });
      },
      { logger },
    );
    closers.push(async () => tokenWatch.close());
    let identity: KubernetesAgentIdentity | null = null;
    if (config.kubernetes) {
      // The Kubernetes client weighs ~70 MB resident: loaded only where pod identity is on.
      const { KubernetesAgentIdentity } = await import('./k8s/agent-identity.js');
      identity = await KubernetesAgentIdentity.start({ ...config.kubernetes, logger: logger.child({ component: 'identity' }) });
      closers.push(async () => identity?.close());
      metrics.countOrphans((pod) => identity?.isOrphaned(pod) ?? false);
      const quarantine = new QuarantineKeeper(log, (pod) => identity?.isOrphaned(pod) ?? false, () => clock.wallMs(), logger.child({ component: 'quarantine' }));
      const quarantineRounds = new SheddableRounds(pressure, 'quarantine', SHED_ROUND_MS);
      closers.push(runPeriodically(QUARANTINE_TICK_MS, () => quarantineRounds.run(() => quarantine.tick()), (error) => logger.warn('quarantine tick failed', { error })));
    } else {
      logger.warn('pod identity is off (no --pool-policy-file): agents are trusted to name their own pod; for development only');
    }
    // What a follower tells the agents it refuses: the leader it knows, and when it expects one.
    const raftLog = log instanceof RaftReplicatedLog ? log : null;
    const leaderView = { knownLeader: (): KnownLeader | null => raftLog?.otherLeader() ?? null, leaderKnownInMs: () => raftLog?.msUntilLeaderKnown() ?? null };
    const grpcServer = await listenOn(config.grpc, 'grpc-listen', () => startGrpcServer({ ...config.grpc, tls, identity, allocation, ...leaderView, metrics, logger: logger.child({ component: 'grpc' }) }));
    closers.push(() => grpcServer.close());
    const httpServer = await listenOn(config.http, 'http-listen', () => startHttpServer({
      ...config.http,
      tls,
      readState: () => log.read((s) => s as ReadonlyCoreState),
      localState: () => log.peek((s) => s),
      leaseExpiry: (podName) => leases.expiresAtWallMs(podName),
      orphaned: (pod) => identity?.isOrphaned(pod) ?? false,
      isReady: () => (log instanceof RaftReplicatedLog ? log.leaderHint() !== null : log.isLeader()),
      // Only pages that read a large pool are worth holding back: a small one costs less than the refusal.
      shedPages: () => log.peek((state) => state.keys.size + state.leases.size) >= LARGE_PAGE_ITEMS && pressure.shouldShed('pages'),
      wallMs: () => clock.wallMs(),
      metrics,
      logger: logger.child({ component: 'http' }),
      keymanagerAdmin: { log, secrets, pool: config.pool, token: () => currentToken, wallMs: () => clock.wallMs(), logger: logger.child({ component: 'keymanager-api' }) },
      ...(log instanceof RaftReplicatedLog ? { raftStatus: (withStateHash: boolean) => log.status(withStateHash), clusterAdmin: { admin: log, token: () => currentToken } } : {}),
    }));
    closers.push(() => httpServer.close());
    // Runs first at shutdown, while everything still serves: agents are redirected to the new leader by
    // refusals that name it, instead of meeting closed ports at a replica that still leads.
    if (log instanceof RaftReplicatedLog) closers.push(() => log.handOverLeadership());
    logger.info('coordinator ready', {
      grpc: `${config.grpc.host}:${grpcServer.port}`,
      http: `${config.http.host}:${httpServer.port}`,
      pool: config.pool,
      adminTokenFile: adminToken.path,
      ...(log instanceof RaftReplicatedLog ? { replicaId: config.raft!.replicaId, raft: `${config.raft!.listen.host}:${log.raftPort}` } : {}),
    });
    return { grpcPort: grpcServer.port, httpPort: httpServer.port, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** The funding wallet's sender, refusing to start against the wrong chain, without the key, or without the ETH for one deposit. */
async function startDepositSender(deposits: DepositConfig, chain: ChainConfig): Promise<DepositSender> {
  let fundingPrivKey: string;
  try {
    fundingPrivKey = (await readFile(deposits.fundingKeyFile, 'utf8')).trim();
  } catch (cause) {
    throw new ConfigError(`cannot read --funding-key-file ${deposits.fundingKeyFile}: check the path (a mounted Secret?)`, { cause });
  }
  if (!/^0x[0-9a-fA-F]{64}$/.test(fundingPrivKey)) throw new ConfigError(`--funding-key-file ${deposits.fundingKeyFile} does not hold a 0x-prefixed 32-byte private key`);
  const sender = new DepositSender({ rpcUrl: chain.rpcUrl!, fundingPrivKey, network: chain.depositNetwork!, maxDepositsPerDay: deposits.maxDepositsPerDay });
  try {
    await sender.checkChain();
  } catch (error) {
    sender.close();
    throw new ConfigError(`the deposit chain is not usable: ${(error as Error).message}`, { cause: error });
  }
  try {
    await sender.assertCanPayOneDeposit();
  } catch (error) {
    sender.close();
    throw new ConfigError(`the funding wallet cannot pay for one deposit, so no key could ever be deposited: ${(error as Error).message}`, { cause: error });
  }
  return sender;
}

/** DepositEvents through the sender's endpoint (or a read-only one), and the beacon node's view, where configured. */
async function startChainLookup(chain: ChainConfig, sender: DepositSender | null): Promise<{ chain: ChainLookup; close(): void }> {
  let reader: DepositEventReader | null = null;
  if (!sender && chain.rpcUrl) {
    reader = new DepositEventReader(chain.rpcUrl, chain.depositNetwork!);
    try {
      await reader.checkChain();
    } catch (error) {
      reader.close();
      throw new ConfigError(`--eth-rpc-url is not usable: ${(error as Error).message}`, { cause: error });
    }
  }
  const beacon = chain.beaconUrl ? new BeaconValidators(chain.beaconUrl) : null;
  return { chain: new ChainLookup(sender ?? reader, beacon, chain.depositNetwork?.depositContractBlock ?? 0), close: () => reader?.close() };
}

/** One replica keeps a local log; with peers, the replicas run Raft. */
async function openLog(config: CoordinatorConfig, tls: ReloadingTls | null, logger: Logger): Promise<ReplicatedLog> {
  if (!config.raft) return SingleReplicaLog.open({ directory: replicaDirectory(config.dataDir), logger: logger.child({ component: 'log' }) });
  const raft = config.raft;
  return RaftReplicatedLog.open({
    replicaId: raft.replicaId,
    directory: raftDirectory(config.dataDir),
    peers: raft.peers,
    join: raft.join,
    listen: raft.listen,
    advertisedRaftAddress: raft.advertisedRaftAddress,
    agentEndpoint: raft.agentEndpoint,
    tls,
    tickMs: raft.tickMs,
    electionTicks: raft.electionTicks,
    heartbeatTicks: 1,
    snapshotEvery: raft.snapshotEvery,
    proposalTimeoutMs: Math.max(5000, raft.tickMs * raft.electionTicks * 5),
    logger: logger.child({ component: 'raft', replicaId: raft.replicaId }),
  });
}

/** Brings the replicated pool settings in line with the flags (only when they differ). */
async function configurePool(log: ReplicatedLog, config: CoordinatorConfig, clock: Clock, logger: Logger): Promise<void> {
  const current = await log.read((state) => state.pools.get(config.pool));
  const wanted = config.poolSettings;
  const same = current && (Object.keys(wanted) as Array<keyof typeof wanted>).every((k) => current[k] === wanted[k]);
  if (same) return;
  const result = await log.propose({ type: 'ConfigurePool', nowMs: clock.wallMs(), pool: config.pool, settings: wanted });
  if (!result.ok) throw new ConfigError(`pool ${config.pool} cannot take these settings: ${result.refusal.message}`);
  logger.info(result.value.created ? 'pool created' : 'pool settings updated', { pool: config.pool, ...wanted });
}
