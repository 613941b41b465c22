import { runCommand, shutdownSignal } from '../shared/cli/run-command.js';
import { createLogger } from '../shared/log/logger.js';
import { COORDINATOR_COMMAND, coordinatorConfig } from './config.js';
import { startCoordinator } from './coordinator.js';

/** `keylease coordinator`: wiring only. */
export function coordinatorMain(argv: string[]): Promise<void> {
  return runCommand(COORDINATOR_COMMAND, argv, async (values) => {
    const config = coordinatorConfig(values);
    const logger = createLogger({ level: config.logLevel, component: 'coordinator' });
    const coordinator = await startCoordinator(config, logger);
    const signal = await shutdownSignal();
    logger.info('shutting down', { signal });
    await coordinator.close();
    logger.info('stopped');
  });
}
