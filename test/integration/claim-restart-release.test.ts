import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { READY_MARKER } from '../../shared/eth/layouts/engine.js';
import { fetchAssignments, startCoordinatorProcess, writeSecrets } from '../support/coordinator-fixture.js';
import { KeyleaseProcess, runKeylease } from '../support/processes.js';
import { tempDir } from '../support/temp-dir.js';

function startAgent(endpoint: string, podName: string, layout: string, outDir: string, keys = 2): KeyleaseProcess {
  return new KeyleaseProcess(['agent', '--coordinator', endpoint, '--pod-name', podName, '--keys', String(keys), '--layout', layout, '--out', outDir, '--health-listen', '127.0.0.1:0', '--log-level', 'debug']);
}

interface QuarantineView {
  pools: Record<string, { unallocated: number; allocated: number; cooling: number; quarantined: number }>;
  pods: Array<{ podName: string }>;
  cooling: Array<{ pubKey: string }>;
  quarantined: Array<{ pubKey: string; podName: string; cause: string }>;
}
const assignmentsOf = async (httpBase: string) => (await fetchAssignments(httpBase)) as unknown as QuarantineView;

async function readyPubKeys(outDir: string): Promise<string[]> {
  const marker = JSON.parse(await readFile(join(outDir, READY_MARKER), 'utf8')) as { pubKeys: string[] };
  return [...marker.pubKeys].sort();
}

test('pods get disjoint keys; kill -9 of the coordinator loses nothing acknowledged; SIGTERM hands keys back into quarantine, from which only the operator\'s confirmed release returns them for reuse', async () => {
  const dir = await tempDir('flow');
  const processes: KeyleaseProcess[] = [];
  try {
    const secrets = await writeSecrets(dir.path);
    const dataDir = join(dir.path, 'data');
    // The restart must fit in the fence margin even on a loaded machine: the agents fence 24 s after their last renewal.
    const settings = ['--lease-ttl-ms', '30000'];
    let coordinator = await startCoordinatorProcess({ dataDir, ...secrets, extra: settings });
    processes.push(coordinator.process);

    const pods = [
      { podName: 'validator-0', layout: 'plain' },
      { podName: 'validator-1', layout: 'teku' },
      { podName: 'validator-2', layout: 'lighthouse' },
    ].map((p) => ({ ...p, outDir: join(dir.path, 'pods', p.podName) }));
    const agents = pods.map((p) => startAgent(coordinator.grpcEndpoint, p.podName, p.layout, p.outDir));
    processes.push(...agents);
    const claims = await Promise.all(agents.map((a) => a.waitForMessage('keys claimed and written', 30_000)));

    const written = await Promise.all(pods.map((p) => readyPubKeys(p.outDir)));
    const allKeys = written.flat();
    assert.is(allKeys.length, 6);
    assert.is(new Set(allKeys).size, 6, 'no key was given to two pods');

    const before = await fetchAssignments(coordinator.httpBase);
    assert.equal(before.pods.map((p) => p.podName), ['validator-0', 'validator-1', 'validator-2']);
    for (const [i, pod] of pods.entries()) {
      const assigned = before.pods.find((p) => p.podName === pod.podName)!;
      assert.equal([...assigned.pubKeys].sort(), written[i], `${pod.podName}'s folder holds exactly its assigned keys`);
      assert.is(assigned.leaseId, claims[i]!['leaseId']);
    }

    // kill -9, then restart on the same ports and data: every acknowledged claim is still there.
    await coordinator.process.kill('SIGKILL');
    coordinator = await startCoordinatorProcess({ dataDir, ...secrets, grpcPort: coordinator.grpcPort, httpPort: coordinator.httpPort, extra: settings });
    processes.push(coordinator.process);
    const restartedAt = Date.now();
    const after = await fetchAssignments(coordinator.httpBase);
    assert.equal(after.pods.map(({ podName, leaseId, pubKeys }) => ({ podName, leaseId, pubKeys })), before.pods.map(({ podName, leaseId, pubKeys }) => ({ podName, leaseId, pubKeys })));
    assert.equal(after.pools, before.pools);

    // The agents renew against the restarted coordinator without fencing.
    await Promise.all(agents.map((a) => a.waitFor((r) => r.msg === 'lease renewed' && Date.parse(String(r['time'])) > restartedAt, 30_000, 'a renewal after restart')));
    assert.ok(agents.every((a) => !a.records.some((r) => r.msg === 'fenced: keys removed')), 'no agent fenced across a quick restart');

    // SIGTERM: keys removed from the folder, then released. A running client keeps keys it loaded from
    // files, so nothing proves it stopped signing: the keys are quarantined, not cooled.
    const released = written[0]!;
    const exit = await agents[0]!.kill('SIGTERM');
    assert.is(exit.code, 0);
    assert.not.ok(existsSync(join(pods[0]!.outDir, READY_MARKER)), 'ready marker removed');
    assert.not.ok(existsSync(join(pods[0]!.outDir, 'keystores')), 'keystores removed');
    const afterRelease = await assignmentsOf(coordinator.httpBase);
    assert.equal(afterRelease.pods.map((p) => p.podName), ['validator-1', 'validator-2']);
    assert.equal(afterRelease.pools['default'], { unallocated: 0, allocated: 4, cooling: 0, quarantined: 2 });
    assert.equal(afterRelease.quarantined.map((k) => [k.pubKey, k.podName, k.cause]).sort(), released.map((k) => [k, 'validator-0', 'files_mode']), 'the released keys are quarantined for their last pod');
    assert.equal(afterRelease.cooling, []);

    // A new pod meanwhile gets fresh keys, never the quarantined ones. The operator, meanwhile, lists them
    // and (having made sure validator-0 can no longer sign) releases them with keylease quarantine.
    const early = startAgent(coordinator.grpcEndpoint, 'validator-9', 'nimbus', join(dir.path, 'pods', 'validator-9'));
    processes.push(early);
    const tokenFile = join(dataDir, 'api-token.txt');
    const [, list, unconfirmed] = await Promise.all([
      early.waitForMessage('keys claimed and written', 30_000),
      runKeylease(['quarantine', 'list', '--http', coordinator.httpBase, '--token-file', tokenFile]),
      runKeylease(['quarantine', 'release', '--http', coordinator.httpBase, '--token-file', tokenFile, '--pubkey', released.join(',')]),
    ]);
    const fresh = await readyPubKeys(join(dir.path, 'pods', 'validator-9'));
    assert.is(fresh.length, 2);
    assert.ok(fresh.every((k) => !allKeys.includes(k)), 'derived, not recycled from quarantine');
    assert.is(list.code, 0, list.output);
    for (const pubKey of released) assert.match(list.output, new RegExp(`${pubKey}\\s+last holder validator-0\\s+files_mode\\s+since \\d{4}-`));
    assert.is.not(unconfirmed.code, 0);
    assert.match(unconfirmed.output, /release needs --confirm/);
    assert.is((await assignmentsOf(coordinator.httpBase)).pools['default']!.quarantined, 2, 'an unconfirmed release changes nothing');
    const confirmed = await runKeylease(['quarantine', 'release', '--http', coordinator.httpBase, '--token-file', tokenFile, '--pubkey', released.join(','), '--confirm']);
    assert.is(confirmed.code, 0, confirmed.output);
    assert.match(confirmed.output, /released 2 keys/);
    assert.is((await fetchAssignments(coordinator.httpBase)).pools['default']!.unallocated, 2);

    // Now a new pod gets the released keys back (free keys are recycled before any is derived).
    const newcomer = startAgent(coordinator.grpcEndpoint, 'validator-8', 'lighthouse', join(dir.path, 'pods', 'validator-8'));
    processes.push(newcomer);
    await newcomer.waitForMessage('keys claimed and written', 30_000);
    assert.equal(await readyPubKeys(join(dir.path, 'pods', 'validator-8')), released);
    const final = await fetchAssignments(coordinator.httpBase);
    assert.equal(final.pools['default'], { unallocated: 0, allocated: 8, cooling: 0, quarantined: 0 }, 'no key derived when free ones existed');
  } finally {
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await dir.cleanup();
  }
});

test.run();
