import { mkdir, readFile } from 'node:fs/promises';
import { layoutFor } from '../shared/eth/layouts/registry.js';
import { CombinedKeyHolder, FileKeyHolder, KeymanagerKeyHolder, type KeyHolder } from './key-holders.js';
import { KeymanagerClient } from './keymanager/client.js';
import { systemClock, type Clock } from '../shared/clock/clock.js';
import { ConfigError } from '../shared/errors/keylease-error.js';
import { reloadingChannelCredentials } from '../shared/tls/grpc-credentials.js';
import { ReloadingTls } from '../shared/tls/reloading-tls.js';
import type { Logger } from '../shared/log/logger.js';
import type { AgentConfig } from './config.js';
import { CoordinatorClient, type SigningMode } from './coordinator-client.js';
import { RemoteKeysRegistration } from './keymanager/remote-keys.js';
import { LighthouseSignerDefinitions } from './remote-signer/lighthouse-definitions.js';

/** How long before its deadline a signer-mode fence starts taking keys off the client's list. */
const SIGNER_FENCE_LEAD_MS = 2000;
import { startHealthServer } from './health-server.js';
import { listenOn } from '../shared/net/listen.js';
import { LeaseLoop } from './lease-loop.js';
import { AgentMetrics } from './metrics.js';

export interface RunningAgent {
  readonly healthPort: number;
  readonly loop: LeaseLoop;
  /** Resolves when the loop ends by itself (an unrecoverable refusal). */
  readonly finished: Promise<void>;
  /** Removes the keys, releases the lease, closes connections. */
  stop(): Promise<void>;
}

export async function startAgent(config: AgentConfig, logger: Logger, clock: Clock = systemClock): Promise<RunningAgent> {
  const { holder, signingMode, fenceLeadMs, close: closeHolder } = await keyHolderFor(config, logger, clock);
  // The CA bundle is a mounted ConfigMap: a rotated one applies to the next connection, without a restart.
  const tls = config.tlsCaFile ? await ReloadingTls.watch({ caFile: config.tlsCaFile, certFile: null, keyFile: null }, { logger, wallMs: () => clock.wallMs() }) : null;
  const client = new CoordinatorClient(config.coordinatorEndpoints, tls ? reloadingChannelCredentials(tls) : undefined, config.tokenFile);
  const metrics = new AgentMetrics();
  const loop = new LeaseLoop({
    podName: config.podName,
    pool: config.pool,
    keyCount: config.keyCount,
    holder,
    client,
    clock,
    logger,
    signingMode,
    fenceLeadMs,
    fenceMarginMs: config.fenceMarginMs,
    requestTimeoutMs: config.requestTimeoutMs,
    observer: metrics,
  });
  metrics.describe(loop);
  const health = await listenOn(config.health, 'health-listen', () => startHealthServer(config.health.host, config.health.port, loop, metrics));
  loop.onPhase((phase) => logger.debug('agent phase', { phase }));
  const finished = loop.start();
  logger.info('agent started', { podName: config.podName, pool: config.pool, keys: config.keyCount, to: holder.name, out: config.files?.outDir ?? null, health: `${config.health.host}:${health.port}` });
  let stopping: Promise<void> | null = null;
  return {
    healthPort: health.port,
    loop,
    finished,
    stop: () =>
      (stopping ??= (async () => {
        await loop.stop();
        await health.close();
        await closeHolder();
        client.close();
        tls?.close();
      })()),
  };
}

/**
 * How the validator client gets the keys, as a key holder in removal order (the client lets go first),
 * the signing mode the coordinator records, and how early the fence starts.
 */
async function keyHolderFor(config: AgentConfig, logger: Logger, clock: Clock): Promise<{ holder: KeyHolder; signingMode: SigningMode; fenceLeadMs: number; close(): Promise<void> }> {
  if (config.signer) {
    // BLS and the SSZ types are loaded only by an agent that signs.
    const { SignerHolder } = await import('./remote-signer/signer-holder.js');
    const signer = new SignerHolder({ ...config.signer, clock, logger });
    const signerUrl = () => `http://${config.signer!.listen.host.includes(':') ? `[${config.signer!.listen.host}]` : config.signer!.listen.host}:${signer.port ?? config.signer!.listen.port}`;
    const holders: KeyHolder[] = [];
    if (config.keymanager) {
      const keymanager = config.keymanager;
      holders.push(new RemoteKeysRegistration(async () => ({ baseUrl: keymanager.url, token: await readToken(keymanager.tokenFile), timeoutMs: keymanager.timeoutMs, caFile: keymanager.caFile }), signerUrl, logger));
    }
    if (config.files) holders.push(new LighthouseSignerDefinitions(config.files.outDir, signerUrl));
    holders.push(signer);
    // With a client list to take keys off, the fence starts early enough to do it while the signer still
    // answers; the signer's own cutoff stays at the deadline.
    const fenceLeadMs = holders.length > 1 ? SIGNER_FENCE_LEAD_MS : 0;
    return { holder: holders.length === 1 ? signer : new CombinedKeyHolder(holders), signingMode: 'signer', fenceLeadMs, close: () => signer.close() };
  }
  const holders: KeyHolder[] = [];
  if (config.keymanager) {
    // What an earlier run left in the client is removed by the lease loop before it claims.
    holders.push(await waitForKeymanager(config.keymanager, logger));
  }
  if (config.files) {
    try {
      await mkdir(config.files.outDir, { recursive: true, mode: 0o700 });
    } catch (cause) {
      throw new ConfigError(`cannot create --out ${config.files.outDir}: check the path and its permissions`, { cause });
    }
    holders.push(new FileKeyHolder(layoutFor(config.files.layout), config.files.outDir));
  }
  return { holder: holders.length === 1 ? holders[0]! : new CombinedKeyHolder(holders), signingMode: config.files ? 'files' : 'keymanager', fenceLeadMs: 0, close: async () => {} };
}

async function waitForKeymanager(keymanager: NonNullable<AgentConfig['keymanager']>, logger: Logger): Promise<KeymanagerKeyHolder> {
  for (let attempt = 1; ; attempt++) {
    try {
      const token = await readToken(keymanager.tokenFile);
      const client = new KeymanagerClient({ baseUrl: keymanager.url, token, timeoutMs: keymanager.timeoutMs, caFile: keymanager.caFile });
      await client.listKeystores();
      return new KeymanagerKeyHolder(client, logger);
    } catch (error) {
      if (attempt === 1 || attempt % 30 === 0) logger.warn('waiting for the validator client\'s Keymanager API', { error: error instanceof Error ? error.message : String(error) });
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

async function readToken(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read --keymanager-token-file ${path}: check the path (the validator client writes it on first start)`, { cause });
  }
  const token = text.trim();
  if (token === '') throw new ConfigError(`--keymanager-token-file ${path} is empty`);
  return token;
}
