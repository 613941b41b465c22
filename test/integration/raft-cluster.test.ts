import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { READY_MARKER } from '../../shared/eth/layouts/engine.js';
import { eventually, fetchAssignments, writeSecrets } from '../support/coordinator-fixture.js';
import { TEST_TICK_MS, TestCluster } from '../support/cluster-fixture.js';
import { KeyleaseProcess, type LogRecord } from '../support/processes.js';
import { tempDir } from '../support/temp-dir.js';
import { scrape } from '../support/prometheus-text.js';

const IDS = ['r1', 'r2', 'r3'];
const TTL_MS = 10_000;
const timeOf = (r: LogRecord) => Date.parse(String(r['time']));

function startAgent(endpoints: string, podName: string, outDir: string): KeyleaseProcess {
  return new KeyleaseProcess(['agent', '--coordinator', endpoints, '--pod-name', podName, '--keys', '2', '--layout', 'plain', '--out', outDir, '--health-listen', '127.0.0.1:0', '--log-level', 'debug']);
}

async function writtenKeys(outDir: string): Promise<string[]> {
  return (JSON.parse(await readFile(join(outDir, READY_MARKER), 'utf8')) as { pubKeys: string[] }).pubKeys.sort();
}

test('three replicas: claims through any replica, kill -9 of the leader loses nothing, agents follow the new leader without fencing', async () => {
  const dir = await tempDir('raft-cluster');
  const secrets = await writeSecrets(dir.path);
  const cluster = await TestCluster.create(dir.path, secrets, IDS, ['--lease-ttl-ms', String(TTL_MS)]);
  const agents: KeyleaseProcess[] = [];
  try {
    await cluster.startAll();
    const first = await cluster.leader();
    // Agents list the replicas starting with a follower: they must be sent on to the leader.
    const follower = IDS.find((id) => id !== first)!;
    const endpoints = [cluster.spec(follower).grpcEndpoint, ...cluster.replicas.filter((r) => r.id !== follower).map((r) => r.grpcEndpoint)].join(',');
    const pods = ['validator-0', 'validator-1', 'validator-2'];
    for (const pod of pods) agents.push(startAgent(endpoints, pod, join(dir.path, 'pods', pod)));
    await Promise.all(agents.map((a) => a.waitForMessage('keys claimed and written', 30_000)));
    const written = await Promise.all(pods.map((pod) => writtenKeys(join(dir.path, 'pods', pod))));
    assert.is(new Set(written.flat()).size, 6, 'six distinct keys for three pods');

    const before = await fetchAssignments(cluster.spec(first).httpBase);
    assert.is((before as unknown as { readFrom: string }).readFrom, 'leader');
    const leaderMetrics = await scrape(`${cluster.spec(first).httpBase}/metrics`);
    const followerMetrics = await scrape(`${cluster.spec(follower).httpBase}/metrics`);
    assert.is(leaderMetrics('keylease_raft_is_leader'), 1);
    assert.is(followerMetrics('keylease_raft_is_leader'), 0);
    assert.is(followerMetrics('keylease_raft_has_leader'), 1);
    assert.is(followerMetrics('keylease_raft_voters'), 3);
    // A follower answers from its applied state and says so; asked for a linearizable read, it refers to the leader.
    const fromFollower = await eventually(async () => {
      const response = await fetch(`${cluster.spec(follower).httpBase}/assignments`, { headers: { accept: 'application/json' } });
      const doc = (await response.json()) as typeof before & { readFrom: string };
      return doc.pods.length === 3 ? { response, doc } : undefined;
    }, 10_000, 'the follower applying the three claims');
    assert.is(fromFollower.response.headers.get('x-keylease-read-from'), 'follower');
    assert.is(fromFollower.doc.readFrom, 'follower');
    assert.equal(fromFollower.doc.pods.map(({ podName, leaseId, pubKeys }) => ({ podName, leaseId, pubKeys })), before.pods.map(({ podName, leaseId, pubKeys }) => ({ podName, leaseId, pubKeys })));
    const followerPage = await (await fetch(`${cluster.spec(follower).httpBase}/assignments`)).text();
    assert.match(followerPage, 'Read from a follower replica');
    const strict = await fetch(`${cluster.spec(follower).httpBase}/assignments?consistency=linearizable`, { headers: { accept: 'application/json' } });
    assert.is(strict.status, 503, 'a linearizable read is the leader\'s to answer');

    // kill -9 the leader: the other two elect a new one, which holds every acknowledged claim.
    const killedAt = Date.now();
    await cluster.processes.get(first)!.kill('SIGKILL');
    const survivors = IDS.filter((id) => id !== first);
    const second = await cluster.leader(survivors);
    const after = await fetchAssignments(cluster.spec(second).httpBase);
    const shape = (doc: typeof before) => doc.pods.map(({ podName, leaseId, pubKeys }) => ({ podName, leaseId, pubKeys }));
    assert.equal(shape(after), shape(before));
    assert.equal(after.pools, before.pools);

    // Agents renew with the new leader and never fence.
    await Promise.all(agents.map((a) => a.waitFor((r) => r.msg === 'lease renewed' && timeOf(r) > killedAt, 20_000, 'a renewal after failover')));
    const secondProcess = cluster.processes.get(second)!;
    await eventually(async () => (secondProcess.records.filter((r) => r.msg === 'lease renewed' && timeOf(r) > killedAt).length >= 3 ? true : undefined), 20_000, 'renewals at the new leader');
    assert.ok(agents.every((a) => !a.records.some((r) => r.msg === 'fenced: keys removed')), 'no agent fenced during failover');

    // The killed replica comes back and catches up with what was committed meanwhile.
    agents.push(startAgent(endpoints, 'validator-3', join(dir.path, 'pods', 'validator-3')));
    await agents[3]!.waitForMessage('keys claimed and written', 30_000);
    await cluster.start(first);
    const leaderCommit = (await cluster.status(second))!.commit;
    await eventually(async () => ((await cluster.status(first))?.applied ?? 0) >= leaderCommit ? true : undefined, 15_000, `${first} to catch up`);
  } finally {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    await cluster.stopAll();
    await dir.cleanup();
  }
});

test('graceful shutdown of the leader hands leadership over faster than an election timeout', async () => {
  const dir = await tempDir('raft-transfer');
  const secrets = await writeSecrets(dir.path);
  const cluster = await TestCluster.create(dir.path, secrets, IDS);
  try {
    await cluster.startAll();
    const first = await cluster.leader();
    const leaderProcess = cluster.processes.get(first)!;
    const exit = await leaderProcess.kill('SIGTERM');
    assert.is(exit.code, 0, leaderProcess.lines.slice(-10).join('\n'));
    const handedOver = leaderProcess.records.find((r) => r.msg === 'leadership handed over before shutdown');
    assert.ok(handedOver, 'the leader handed over before stopping');
    const survivors = IDS.filter((id) => id !== first);
    const second = await cluster.leader(survivors);
    const becameLeader = cluster.processes.get(second)!.records.find((r) => r.msg === 'became leader' && timeOf(r) >= timeOf(handedOver!) - 1000);
    assert.ok(becameLeader);
    const shutdownRequested = leaderProcess.records.find((r) => r.msg === 'shutting down')!;
    const gapMs = timeOf(becameLeader!) - timeOf(shutdownRequested);
    assert.ok(gapMs < TEST_TICK_MS * 10, `new leader ${gapMs} ms after shutdown began; an election timeout is at least ${TEST_TICK_MS * 10} ms`);
    console.log(`leadership handed over ${gapMs} ms after SIGTERM`);
  } finally {
    await cluster.stopAll();
    await dir.cleanup();
  }
});

test('a leader paused (SIGSTOP) past every lease TTL never expires leases when it resumes', async () => {
  const dir = await tempDir('raft-pause');
  const secrets = await writeSecrets(dir.path);
  // Long enough for the agents to find the new leader before their fence deadline.
  const ttlMs = 6000;
  const cluster = await TestCluster.create(dir.path, secrets, IDS, ['--lease-ttl-ms', String(ttlMs)]);
  const agents: KeyleaseProcess[] = [];
  try {
    await cluster.startAll();
    const first = await cluster.leader();
    for (const pod of ['validator-0', 'validator-1']) agents.push(startAgent(cluster.agentEndpoints, pod, join(dir.path, 'pods', pod)));
    await Promise.all(agents.map((a) => a.waitForMessage('keys claimed and written', 30_000)));

    const paused = cluster.processes.get(first)!;
    paused.child.kill('SIGSTOP');
    const pausedAt = Date.now();
    const second = await cluster.leader(IDS.filter((id) => id !== first));
    // Hold the old leader stopped until the new one has kept the leases alive for longer than a TTL.
    const newLeader = cluster.processes.get(second)!;
    await newLeader.waitFor((r) => r.msg === 'lease renewed' && timeOf(r) > pausedAt + ttlMs * 1.5, 20_000, 'renewals past a whole TTL at the new leader');
    const resumedAt = Date.now();
    paused.child.kill('SIGCONT');
    // The resumed replica learns of the new term and follows; it must not have proposed any expiry.
    await eventually(async () => ((await cluster.status(first))?.lead === second ? true : undefined), 10_000, 'the old leader to follow the new one');
    await newLeader.waitFor((r) => r.msg === 'lease renewed' && timeOf(r) > resumedAt + ttlMs, 20_000, 'renewals a TTL after the resume');
    const expiries = [...cluster.processes.entries()].flatMap(([id, p]) => p.records.filter((r) => r.msg === 'lease expired without renewal').map((r) => `${id} ${r['time']} ${r['podName']}`));
    const fences = agents.flatMap((a) => a.records.filter((r) => r.msg === 'fenced: keys removed').map((r) => `${r['podName']} ${r['time']} ${r['reason']}`));
    assert.equal(expiries, [], `no lease was expired (paused ${first} at ${new Date(pausedAt).toISOString()}; fences: ${fences.join('; ')})`);
    const assignments = await fetchAssignments(cluster.spec(second).httpBase);
    assert.equal(assignments.pods.map((p) => p.podName), ['validator-0', 'validator-1']);
    assert.ok(agents.every((a) => !a.records.some((r) => r.msg === 'fenced: keys removed')), 'no agent fenced');
  } finally {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    cluster.processes.forEach((p) => p.child.kill('SIGCONT'));
    await cluster.stopAll();
    await dir.cleanup();
  }
});

test.run();
