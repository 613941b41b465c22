import { mkdir, readFile } from 'node:fs/promises';
import { layoutFor } from '../shared/eth/layouts/types.js';
import { systemClock, type Clock } from '../shared/clock/clock.js';
import { ConfigError } from '../shared/errors/keylease-error.js';
import type { Logger } from '../shared/log/logger.js';
import type { AgentConfig } from './config.js';
import { CoordinatorClient } from './coordinator-client.js';
import { startHealthServer } from './health-server.js';
import { LeaseLoop } from './lease-loop.js';

export interface RunningAgent {
  readonly healthPort: number;
  readonly loop: LeaseLoop;
  /** Resolves when the loop ends by itself (an unrecoverable refusal). */
  readonly finished: Promise<void>;
  /** Removes the keys, releases the lease, closes connections. */
  stop(): Promise<void>;
}

export async function startAgent(config: AgentConfig, logger: Logger, clock: Clock = systemClock): Promise<RunningAgent> {
  let caPem: Buffer | null = null;
  if (config.tlsCaFile) {
    try {
      caPem = await readFile(config.tlsCaFile);
    } catch (cause) {
      throw new ConfigError(`cannot read --tls-ca-file ${config.tlsCaFile}: check the path`, { cause });
    }
  }
  try {
    await mkdir(config.outDir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new ConfigError(`cannot create --out ${config.outDir}: check the path and its permissions`, { cause });
  }
  const layout = layoutFor(config.layout);
  // A restarted agent holds no lease yet: whatever an earlier run left behind must not be signed with.
  await layout.remove(config.outDir);
  const client = new CoordinatorClient(config.coordinatorEndpoints, caPem);
  const loop = new LeaseLoop({
    podName: config.podName,
    pool: config.pool,
    keyCount: config.keyCount,
    outDir: config.outDir,
    layout,
    client,
    clock,
    logger,
    fenceMarginMs: config.fenceMarginMs,
    requestTimeoutMs: config.requestTimeoutMs,
  });
  const health = await startHealthServer(config.health.host, config.health.port, () => loop.currentPhase);
  loop.onPhase((phase) => logger.debug('agent phase', { phase }));
  const finished = loop.start();
  logger.info('agent started', { podName: config.podName, pool: config.pool, keys: config.keyCount, layout: config.layout, out: config.outDir, health: `${config.health.host}:${health.port}` });
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
      })()),
  };
}
