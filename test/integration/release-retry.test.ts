import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { CoordinatorCallError, CoordinatorClient } from '../../agent/coordinator-client.js';
import { COORDINATOR_COMMAND, coordinatorConfig } from '../../coordinator/config.js';
import { startCoordinator } from '../../coordinator/coordinator.js';
import { parseFlags } from '../../shared/cli/flags.js';
import { silentLogger } from '../../shared/log/logger.js';
import { fetchAssignments, writeSecrets } from '../support/coordinator-fixture.js';
import { tempDir } from '../support/temp-dir.js';

test('a retried release (same request id) succeeds once more without effect; another request id is refused', async () => {
  const dir = await tempDir('release-retry');
  const secrets = await writeSecrets(dir.path);
  const values = parseFlags(COORDINATOR_COMMAND, ['--data-dir', join(dir.path, 'data'), '--kek-file', secrets.kekFile, '--mnemonic-file', secrets.mnemonicFile, '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0'], {});
  const coordinator = await startCoordinator(coordinatorConfig(values), silentLogger);
  const client = new CoordinatorClient([`127.0.0.1:${coordinator.grpcPort}`]);
  const httpBase = `http://127.0.0.1:${coordinator.httpPort}`;
  try {
    const first = await client.claim('pod-a', 'default', 1, 30_000);
    await client.release('pod-a', first.leaseId, 5000, { requestId: 'release-1' });
    // The same pod claims again (a new lease), then an old retry of the first release arrives.
    const second = await client.claim('pod-a', 'default', 1, 30_000);
    assert.is.not(second.leaseId, first.leaseId);
    await client.release('pod-a', first.leaseId, 5000, { requestId: 'release-1' });
    const during = await fetchAssignments(httpBase);
    assert.equal(during.pods.map((p) => [p.podName, p.leaseId]), [['pod-a', second.leaseId]], 'the retry did not touch the new lease');
    await client.renew('pod-a', second.leaseId, 5000);

    try {
      await client.release('pod-a', first.leaseId, 5000, { requestId: 'release-2' });
      assert.unreachable('a new release of an ended lease was accepted');
    } catch (error) {
      assert.instance(error, CoordinatorCallError);
      assert.is((error as CoordinatorCallError).refusalCode, 'LEASE_NOT_FOUND');
    }
  } finally {
    client.close();
    await coordinator.close();
    await dir.cleanup();
  }
});

test.run();
