import { runCommand, shutdownSignal } from '../shared/cli/run-command.js';
import { createLogger } from '../shared/log/logger.js';
import { startAgent } from './agent.js';
import { AGENT_COMMAND, agentConfig } from './config.js';

/** `keylease agent`: wiring only. */
export function agentMain(argv: string[]): Promise<void> {
  return runCommand(AGENT_COMMAND, argv, async (values) => {
    const config = agentConfig(values);
    const logger = createLogger({ level: config.logLevel, component: 'agent' }).child({ podName: config.podName });
    const agent = await startAgent(config, logger);
    const outcome = await Promise.race([shutdownSignal().then((signal) => ({ signal })), agent.finished.then(() => ({ signal: null }))]);
    if (outcome.signal) logger.info('shutting down: removing keys and releasing the lease', { signal: outcome.signal });
    await agent.stop();
    if (agent.loop.failure) throw agent.loop.failure;
  });
}
