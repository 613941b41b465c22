import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { floodRenewals } from '../bench/renewal-flood.js';
import { startCoordinatorProcess, writeSecrets } from '../support/coordinator-fixture.js';
import { claimAsSigner } from '../support/proven-release.js';
import { tempDir } from '../support/temp-dir.js';

// bench:fleet's flood speaks RenewStream without grpc-js: a coordinator must answer it as it answers agents.
test('the fleet bench flood sender renews live leases at a real coordinator, and counts refusals as failures by their code', async () => {
  const dir = await tempDir('renewal-flood');
  const secrets = await writeSecrets(dir.path);
  const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'data'), ...secrets, extra: ['--lease-ttl-ms', '10000', '--log-level', 'info'] });
  const client = new CoordinatorClient([coordinator.grpcEndpoint]);
  try {
    const leases = [];
    for (const podName of ['validator-f1', 'validator-f2']) leases.push({ podName, leaseId: (await claimAsSigner(client, podName, 1, 30_000)).leaseId });
    const flooded = await floodRenewals(coordinator.grpcEndpoint, leases, 0.3, 6, 2);
    assert.ok(flooded.renewals > 0, 'renewals answered');
    assert.is(flooded.failures, 0, `no failures: ${JSON.stringify(flooded.problems)}`);
    assert.is(flooded.latenciesMs.length, flooded.renewals, 'a latency for every renewal answered');

    const refused = await floodRenewals(coordinator.grpcEndpoint, [{ podName: 'validator-f1', leaseId: 'lease-404' }], 0.1, 2, 1);
    assert.is(refused.renewals, 0);
    assert.ok(refused.failures > 0, 'refusals counted as failures');
    assert.equal(Object.keys(refused.problems), ['refused: LEASE_NOT_FOUND']);
    // The flood's renewals were renewals: the leases are still live and renewable by their agents.
    assert.is((await client.renew('validator-f1', leases[0]!.leaseId, 5000)).leaseTtlMs, 10_000);
  } finally {
    client.close();
    await coordinator.process.kill('SIGTERM');
    await dir.cleanup();
  }
});

test.run();
