import { runCommand, shutdownSignal } from '../shared/cli/run-command.js';
import { createLogger } from '../shared/log/logger.js';
import { AGENT_COMMAND, agentConfig } from './config.js';

/**
 * `keylease agent`: wiring only. The agent itself (gRPC, metrics, key holders) is imported once the
 * flags are known to be good, so `--help` and a bad flag cost no more than Node starting.
 */
export function agentMain(argv: string[]): Promise<void> {
  return runCommand(AGENT_COMMAND, argv, async (values) => {
    const config = agentConfig(values);
    const logger = createLogger({ level: config.logLevel, component: 'agent' }).child({ podName: config.podName });
    const { startAgent } = await import('./agent.js');
    const agent = await startAgent(config, logger);
    const outcome = await Promise.race([shutdownSignal().then((signal) => ({ signal })), agent.finished.then(() => ({ signal: null }))]);
    if (outcome.signal) logger.info('shutting down: removing keys and releasing the lease', { signal: outcome.signal });
    await agent.stop();
    if (agent.loop.failure) throw agent.loop.failure;
  });
}
