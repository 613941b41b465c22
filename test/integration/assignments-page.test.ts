import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { chromiumAvailable, renderedDom } from '../support/chromium.js';
import { startCoordinatorProcess, writeSecrets } from '../support/coordinator-fixture.js';
import { tempDir } from '../support/temp-dir.js';

/** The rows of the table under the heading `title`, each as the text of its cells. */
function tableRows(dom: string, title: string): string[][] {
  const section = dom.split(`<h2>${title}</h2>`)[1]?.split('<h2>')[0] ?? '';
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(section)?.[1] ?? '';
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) => [...row[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((cell) => cell[1]!.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim()));
}

test('the /assignments page, as Chromium renders it, lists each pod with its public keys, the pool counts and the cooling keys', async () => {
  assert.ok(chromiumAvailable(), 'Debian\'s chromium package is installed (.ci/run installs it)');
  const dir = await tempDir('assignments-page');
  const secrets = await writeSecrets(dir.path);
  const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'data'), ...secrets, extra: ['--cooling-ms', '600000'] });
  const client = new CoordinatorClient([coordinator.grpcEndpoint]);
  try {
    const first = await client.claim('validator-0', 'default', 2, 30_000);
    const second = await client.claim('validator-1', 'default', 1, 30_000);
    const third = await client.claim('validator-2', 'default', 1, 30_000);
    // Released without slashing protection: the key cools down before anyone else may sign with it.
    await client.release('validator-2', third.leaseId, 10_000);

    const dom = await renderedDom(`${coordinator.httpBase}/assignments`);
    assert.match(dom, '<title>keylease assignments</title>');
    assert.not.match(dom, 'Read from a follower replica', 'the leader\'s page carries no follower banner');

    const pods = tableRows(dom, 'Pods');
    assert.equal(pods.map((cells) => cells[0]), ['validator-0', 'validator-1']);
    for (const [row, lease] of [[pods[0]!, first], [pods[1]!, second]] as const) {
      assert.is(row[1], 'default');
      assert.is(row[2], lease.leaseId);
      assert.match(row[3]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/, 'the lease expiry is shown');
      for (const key of lease.keys) assert.ok(row[4]!.includes(key.pubKey), `row of ${row[0]} shows ${key.pubKey}`);
    }

    const pools = tableRows(dom, 'Pools');
    assert.equal(pools, [['default', '0', '3', '1', '—']], 'pool, unallocated, allocated, cooling, deposits');

    const cooling = tableRows(dom, 'Cooling keys');
    assert.is(cooling.length, 1);
    assert.is(cooling[0]![0], third.keys[0]!.pubKey);
  } finally {
    client.close();
    await coordinator.process.kill('SIGKILL');
    await dir.cleanup();
  }
});

test.run();
