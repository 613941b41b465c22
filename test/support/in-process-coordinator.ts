import { join } from 'node:path';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { COORDINATOR_COMMAND, coordinatorConfig } from '../../coordinator/config.js';
import { startCoordinator } from '../../coordinator/coordinator.js';
import { parseFlags } from '../../shared/cli/flags.js';
import { silentLogger } from '../../shared/log/logger.js';
import { writeSecrets } from './coordinator-fixture.js';
import { tempDir } from './temp-dir.js';

export interface InProcessCoordinator {
  readonly client: CoordinatorClient;
  readonly httpBase: string;
  /** Closes the client and the coordinator, and deletes its data. */
  close(): Promise<void>;
}

/**
 * One coordinator in this process on loopback ports, with its data in a temporary folder and an agent's
 * client pointed at it. `extraFlags` follow the data, KEK and listen flags; `withMnemonic: false` leaves
 * the pool with only the keys it is given, so exhaustion is reachable.
 */
export async function startInProcessCoordinator(name: string, extraFlags: readonly string[], options: { readonly withMnemonic: boolean }): Promise<InProcessCoordinator> {
  const dir = await tempDir(name);
  const secrets = await writeSecrets(dir.path);
  const flags = ['--data-dir', join(dir.path, 'data'), '--kek-file', secrets.kekFile, '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0'];
  if (options.withMnemonic) flags.push('--mnemonic-file', secrets.mnemonicFile);
  const coordinator = await startCoordinator(coordinatorConfig(parseFlags(COORDINATOR_COMMAND, [...flags, ...extraFlags], {})), silentLogger);
  const client = new CoordinatorClient([`127.0.0.1:${coordinator.grpcPort}`]);
  return {
    client,
    httpBase: `http://127.0.0.1:${coordinator.httpPort}`,
    close: async () => {
      client.close();
      await coordinator.close();
      await dir.cleanup();
    },
  };
}
