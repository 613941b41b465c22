import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { CoordinatorClient, type ClaimedKeys } from '../../agent/coordinator-client.js';
import { chromiumAvailable, renderedDom } from '../support/chromium.js';
import { eventually, startCoordinatorProcess, writeSecrets } from '../support/coordinator-fixture.js';
import { tempDir } from '../support/temp-dir.js';

const TTL_MS = 2000;

/** The rows of the table under the heading `title`, each as the text of its cells. */
function tableRows(dom: string, title: string): string[][] {
  const section = dom.split(`<h2>${title}</h2>`)[1]?.split('<h2>')[0] ?? '';
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(section)?.[1] ?? '';
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) => [...row[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((cell) => cell[1]!.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim()));
}

interface QuarantinedJson {
  pubKey: string;
  pool: string;
  podName: string;
  podUid: string | null;
  leaseId: string;
  sinceMs: number;
  since: string;
  cause: string;
}

interface AssignmentsWithQuarantine {
  pools: Record<string, { unallocated: number; allocated: number; cooling: number; quarantined: number }>;
  cooling: Array<{ pubKey: string }>;
  quarantined: QuarantinedJson[];
}

test('the /assignments page, as Chromium renders it, lists each pod with its public keys, the pool counts, the quarantined keys with their last holder and cause, and the cooling keys', async () => {
  assert.ok(chromiumAvailable(), 'Debian\'s chromium package is installed (.ci/run installs it)');
  const dir = await tempDir('assignments-page');
  const secrets = await writeSecrets(dir.path);
  const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'data'), ...secrets, extra: ['--cooling-ms', '600000', '--lease-ttl-ms', String(TTL_MS)] });
  const client = new CoordinatorClient([coordinator.grpcEndpoint]);
  const held: Array<[string, ClaimedKeys]> = [];
  // The two pods that keep their leases renew them, as their agents would.
  const renewing = setInterval(() => {
    for (const [pod, lease] of held) void client.renew(pod, lease.leaseId, 1000).catch(() => {});
  }, TTL_MS / 4);
  try {
    const first = await client.claim('validator-0', 'default', 2, 30_000);
    held.push(['validator-0', first]);
    const second = await client.claim('validator-1', 'default', 1, 30_000, 'keymanager');
    held.push(['validator-1', second]);
    // Released without slashing protection: nothing proves the client stopped signing.
    const filesMode = await client.claim('validator-2', 'default', 1, 30_000, 'files');
    await client.release('validator-2', filesMode.leaseId, 10_000);
    const unproven = await client.claim('validator-3', 'default', 1, 30_000, 'keymanager');
    await client.release('validator-3', unproven.leaseId, 10_000);
    // Left to expire: a Keymanager client may still hold its key; a remote-signer agent signs nothing after its deadline.
    const expired = await client.claim('validator-4', 'default', 1, 30_000, 'keymanager');
    const signer = await client.claim('validator-5', 'default', 1, 30_000, 'signer');

    const doc = await eventually(async () => {
      const response = await fetch(`${coordinator.httpBase}/assignments`, { headers: { accept: 'application/json' } });
      const json = (await response.json()) as AssignmentsWithQuarantine;
      return json.quarantined.length === 3 && json.cooling.length === 1 ? json : undefined;
    }, TTL_MS * 5, 'the two unrenewed leases to expire');
    assert.equal(doc.pools['default'], { unallocated: 0, allocated: 3, cooling: 1, quarantined: 3 });
    assert.equal(doc.cooling.map((k) => k.pubKey), [signer.keys[0]!.pubKey], 'the remote-signer key cools down');
    const byKey = new Map(doc.quarantined.map((k) => [k.pubKey, k]));
    for (const [lease, podName, cause] of [[filesMode, 'validator-2', 'files_mode'], [unproven, 'validator-3', 'unproven_release'], [expired, 'validator-4', 'expired']] as const) {
      const entry = byKey.get(lease.keys[0]!.pubKey);
      assert.ok(entry, `${podName}'s key is quarantined`);
      assert.equal({ pool: entry!.pool, podName: entry!.podName, leaseId: entry!.leaseId, cause: entry!.cause }, { pool: 'default', podName, leaseId: lease.leaseId, cause });
      assert.is(entry!.since, new Date(entry!.sinceMs).toISOString());
    }
    const metrics = await (await fetch(`${coordinator.httpBase}/metrics`)).text();
    assert.match(metrics, /keylease_keys\{pool="default",state="quarantined"\} 3\n/);

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
    assert.equal(pools, [['default', '0', '3', '1', '3', '—']], 'pool, unallocated, allocated, cooling, quarantined, deposits');

    const quarantineSection = dom.split('<h2>Quarantined keys</h2>')[1]?.split('<h2>')[0] ?? '';
    assert.match(quarantineSection, /3 keys wait/, 'the section says how many keys wait');
    assert.match(quarantineSection, 'keylease quarantine release', 'and how an operator releases them');
    const quarantined = tableRows(dom, 'Quarantined keys');
    assert.is(quarantined.length, 3);
    for (const [lease, podName, why] of [[filesMode, 'validator-2', /keystore files/], [unproven, 'validator-3', /released without proof/], [expired, 'validator-4', /lease expired/]] as const) {
      const row = quarantined.find((cells) => cells[0] === lease.keys[0]!.pubKey);
      assert.ok(row, `a row for ${podName}'s key`);
      assert.is(row![1], 'default');
      assert.is(row![2], podName, 'the last holder');
      assert.match(row![3]!, why);
      assert.match(row![4]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/, 'since when');
    }

    const cooling = tableRows(dom, 'Cooling keys');
    assert.equal(cooling.map((cells) => cells[0]), [signer.keys[0]!.pubKey]);
  } finally {
    clearInterval(renewing);
    client.close();
    await coordinator.process.kill('SIGKILL');
    await dir.cleanup();
  }
});

test.run();
