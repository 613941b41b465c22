import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { READY_MARKER } from '../../shared/eth/layouts/engine.js';
import { eventually, fetchAssignments, startCoordinatorProcess, writeSecrets } from '../support/coordinator-fixture.js';
import { KeyleaseProcess } from '../support/processes.js';
import { tempDir } from '../support/temp-dir.js';

function startAgent(endpoint: string, podName: string, layout: string, outDir: string, keys = 2): KeyleaseProcess {
  return new KeyleaseProcess(['agent', '--coordinator', endpoint, '--pod-name', podName, '--keys', String(keys), '--layout', layout, '--out', outDir, '--health-listen', '127.0.0.1:0', '--log-level', 'debug']);
}

async function readyPubKeys(outDir: string): Promise<string[]> {
  const marker = JSON.parse(await readFile(join(outDir, READY_MARKER), 'utf8')) as { pubKeys: string[] };
  return [...marker.pubKeys].sort();
}

test('pods get disjoint keys; kill -9 of the coordinator loses nothing acknowledged; SIGTERM hands keys back for reuse', async () => {
  const dir = await tempDir('flow');
  const processes: KeyleaseProcess[] = [];
  try {
    const secrets = await writeSecrets(dir.path);
    const dataDir = join(dir.path, 'data');
    let coordinator = await startCoordinatorProcess({ dataDir, ...secrets, extra: ['--lease-ttl-ms', '20000', '--cooling-ms', '1500'] });
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
    coordinator = await startCoordinatorProcess({ dataDir, ...secrets, grpcPort: coordinator.grpcPort, httpPort: coordinator.httpPort, extra: ['--lease-ttl-ms', '20000', '--cooling-ms', '1500'] });
    processes.push(coordinator.process);
    const restartedAt = Date.now();
    const after = await fetchAssignments(coordinator.httpBase);
    assert.equal(after.pods.map(({ podName, leaseId, pubKeys }) => ({ podName, leaseId, pubKeys })), before.pods.map(({ podName, leaseId, pubKeys }) => ({ podName, leaseId, pubKeys })));
    assert.equal(after.pools, before.pools);

    // The agents renew against the restarted coordinator without fencing.
    await Promise.all(agents.map((a) => a.waitFor((r) => r.msg === 'lease renewed' && Date.parse(String(r['time'])) > restartedAt, 20_000, 'a renewal after restart')));
    assert.ok(agents.every((a) => !a.records.some((r) => r.msg === 'fenced: keys removed')), 'no agent fenced across a quick restart');

    // SIGTERM: keys removed from the folder, then released. A file layout gets no slashing protection
    // back from its validator client, so nothing shows the client stopped signing: the keys cool down.
    const released = written[0]!;
    const exit = await agents[0]!.kill('SIGTERM');
    assert.is(exit.code, 0);
    assert.not.ok(existsSync(join(pods[0]!.outDir, READY_MARKER)), 'ready marker removed');
    assert.not.ok(existsSync(join(pods[0]!.outDir, 'keystores')), 'keystores removed');
    const afterRelease = await fetchAssignments(coordinator.httpBase);
    assert.equal(afterRelease.pods.map((p) => p.podName), ['validator-1', 'validator-2']);
    assert.equal(afterRelease.pools['default'], { unallocated: 0, allocated: 4, cooling: 2 });
    assert.equal(afterRelease.cooling.map((k) => k.pubKey).sort(), released, 'the released keys are listed as cooling');

    // After cooling, a new pod gets the released keys back (free keys are recycled before any is derived).
    await eventually(async () => ((await fetchAssignments(coordinator.httpBase)).pools['default']!.unallocated === 2 ? true : undefined), 10_000, 'the cooled keys to return');
    const newcomer = startAgent(coordinator.grpcEndpoint, 'validator-9', 'nimbus', join(dir.path, 'pods', 'validator-9'));
    processes.push(newcomer);
    await newcomer.waitForMessage('keys claimed and written', 30_000);
    assert.equal(await readyPubKeys(join(dir.path, 'pods', 'validator-9')), released);
    const final = await fetchAssignments(coordinator.httpBase);
    assert.is(final.pools['default']!.unallocated + final.pools['default']!.allocated, 6, 'no key derived when free ones existed');
  } finally {
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await dir.cleanup();
  }
});

test.run();
