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
import { CoordinatorClient } from './coordinator-client.js';
import { startHealthServer } from './health-server.js';
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
  const holders: KeyHolder[] = [];
  if (config.keymanager) {
    // The validator client starts beside the agent: wait for its token and API instead of giving up.
    const keymanager = await waitForKeymanager(config.keymanager, logger);
    // A restarted agent holds no lease yet: whatever an earlier run left in the client must not sign.
    const removed = await keymanager.removeLeftovers();
    if (removed > 0) logger.warn('removed keys an earlier run left in the validator client, before claiming', { keys: removed });
    holders.push(keymanager);
  }
  if (config.files) {
    try {
      await mkdir(config.files.outDir, { recursive: true, mode: 0o700 });
    } catch (cause) {
      throw new ConfigError(`cannot create --out ${config.files.outDir}: check the path and its permissions`, { cause });
    }
    const files = new FileKeyHolder(layoutFor(config.files.layout), config.files.outDir);
    // Likewise for files an earlier run wrote.
    await files.removeAll();
    holders.push(files);
  }
  const holder = holders.length === 1 ? holders[0]! : new CombinedKeyHolder(holders);
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
    fenceMarginMs: config.fenceMarginMs,
    requestTimeoutMs: config.requestTimeoutMs,
    observer: metrics,
  });
  metrics.describe(loop);
  const health = await startHealthServer(config.health.host, config.health.port, () => loop.currentPhase, () => loop.stop(), metrics);
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
        client.close();
        tls?.close();
      })()),
  };
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
