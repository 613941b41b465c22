import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { credentials } from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { createTestCa, type TestCa } from '../support/certs.js';
import { TestCluster } from '../support/cluster-fixture.js';
import { eventually, startCoordinatorProcess, writeSecrets, type StartedCoordinator } from '../support/coordinator-fixture.js';
import { KeyleaseProcess } from '../support/processes.js';
import { LinkProxy } from '../support/tcp-proxy.js';
import { tempDir } from '../support/temp-dir.js';
import { probeTls } from '../support/tls-probe.js';
import { requestJson } from '../../shared/http/json-request.js';
import { SecretVolume } from '../k8s/support/secret-volume.js';

const read = (path: string) => readFileSync(path);

/** A Secret volume holding `ca.crt`, `tls.crt` and `tls.key`, with the flags that point a process at it. */
function tlsVolume(dir: string, name: string) {
  const path = join(dir, name);
  mkdirSync(path);
  const volume = new SecretVolume(path);
  return {
    publish(ca: TestCa, pair: { certFile: string; keyFile: string }) {
      volume.publish({ 'ca.crt': read(ca.caFile), 'tls.crt': read(pair.certFile), 'tls.key': read(pair.keyFile) });
    },
    publishRaw(files: Record<string, Buffer>) {
      volume.publish(files);
    },
    flags: ['--tls-ca-file', join(path, 'ca.crt'), '--tls-cert-file', join(path, 'tls.crt'), '--tls-key-file', join(path, 'tls.key')],
  };
}

const fingerprintOf = (certFile: string) => new X509Certificate(read(certFile)).fingerprint256;

test('a coordinator serves a rotated certificate, and an agent trusts a rotated CA, without a restart and without losing the lease', async () => {
  const dir = await tempDir('tls-rotation');
  const secrets = await writeSecrets(dir.path);
  const oldCa = createTestCa(dir.path, 'old');
  const newCa = createTestCa(dir.path, 'new');
  const oldPair = oldCa.issue('coordinator');
  const newPair = newCa.issue('coordinator');
  const serving = tlsVolume(dir.path, 'coordinator-tls');
  serving.publish(oldCa, oldPair);
  const trustPath = join(dir.path, 'agent-ca');
  mkdirSync(trustPath);
  const trust = new SecretVolume(trustPath);
  trust.publish({ 'ca.crt': read(oldCa.caFile) });

  let coordinator: StartedCoordinator | null = null;
  let agent: KeyleaseProcess | null = null;
  let proxy: LinkProxy | null = null;
  try {
    coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'data'), kekFile: secrets.kekFile, mnemonicFile: secrets.mnemonicFile, extra: serving.flags });
    const served = () => probeTls(coordinator!.grpcPort, { caPem: read(newCa.caFile) }).then((r) => r.fingerprint);
    assert.is(await served(), fingerprintOf(oldPair.certFile));

    // The agent reaches the coordinator through a proxy, so the test can make it open a new connection.
    proxy = await LinkProxy.start(coordinator.grpcPort);
    agent = new KeyleaseProcess(['agent', '--coordinator', `127.0.0.1:${proxy.port}`, '--tls-ca-file', join(trustPath, 'ca.crt'), '--pod-name', 'validator-0', '--keys', '1', '--layout', 'plain', '--out', join(dir.path, 'pod'), '--health-listen', '127.0.0.1:0', '--log-level', 'debug']);
    await agent.waitForMessage('keys claimed and written');

    // Rotation to another CA altogether: the harshest case, since nothing of the old chain stays valid.
    serving.publish(newCa, newPair);
    trust.publish({ 'ca.crt': read(newCa.caFile) });
    await eventually(async () => ((await served()) === fingerprintOf(newPair.certFile) ? true : undefined), 10_000, 'the new certificate served');
    await agent.waitForMessage('TLS files reloaded; new connections use them', 10_000);
    // The HTTPS port (admin API, /metrics) serves it too.
    assert.is((await probeTls(coordinator.httpPort, { caPem: read(newCa.caFile), protocol: 'http/1.1' })).fingerprint, fingerprintOf(newPair.certFile));

    const metrics = (await requestJson(`https://127.0.0.1:${coordinator.httpPort}/metrics`, { caPem: read(newCa.caFile) })).text;
    const expiry = /^keylease_tls_certificate_expiration_timestamp_seconds (\S+)$/m.exec(metrics);
    assert.ok(expiry, 'the expiry gauge is exported');
    assert.is(Number(expiry[1]) * 1000, Date.parse(new X509Certificate(read(newPair.certFile)).validTo));

    // Drop the agent's connection: its next renewal needs a new handshake, its new CA against the new certificate.
    const connectionsBefore = proxy.acceptedConnections;
    const recordsBefore = agent.records.length;
    proxy.setCut(true);
    proxy.setCut(false);
    await agent.waitFor((r) => r.msg === 'lease renewed' && agent!.records.indexOf(r) >= recordsBefore, 15_000, 'a renewal over a new connection');
    assert.ok(proxy.acceptedConnections > connectionsBefore, 'the renewal came over a new connection');
    assert.not.ok(agent.records.some((r) => r.msg === 'fenced: keys removed'), 'the agent never fenced');

    // A rotation caught half-done (the new certificate beside another key) is not applied.
    const stray = newCa.issue('stray');
    serving.publishRaw({ 'ca.crt': read(newCa.caFile), 'tls.crt': read(stray.certFile), 'tls.key': read(newPair.keyFile) });
    const refused = await coordinator.process.waitForMessage('applying changed files failed; the previous ones stay in use', 10_000);
    assert.match(JSON.stringify(refused), 'does not belong to the private key');
    assert.not.match(JSON.stringify(refused), 'BEGIN');
    assert.is(await served(), fingerprintOf(newPair.certFile));
  } finally {
    await agent?.kill('SIGKILL');
    await coordinator?.process.kill('SIGKILL');
    await proxy?.close();
    await dir.cleanup();
  }
});

test('replicas rotated to a new CA shut out the old one, and a restarted replica rejoins over the reloaded mutual TLS', async () => {
  const dir = await tempDir('tls-rotation-raft');
  const secrets = await writeSecrets(dir.path);
  const oldCa = createTestCa(dir.path, 'old');
  const newCa = createTestCa(dir.path, 'new');
  const ids = ['r1', 'r2', 'r3'];
  const cluster = await TestCluster.create(dir.path, secrets, ids, [], { httpsCaPem: read(oldCa.caFile) });
  const volumes = new Map(ids.map((id) => [id, tlsVolume(dir.path, `${id}-tls`)]));
  for (const id of ids) volumes.get(id)!.publish(oldCa, oldCa.issue(id));
  const client = new CoordinatorClient(cluster.replicas.map((r) => r.grpcEndpoint), credentials.createSsl(read(newCa.caFile)));
  try {
    await Promise.all(ids.map((id) => cluster.start(id, { extra: volumes.get(id)!.flags })));
    await cluster.leader();

    const newPairs = new Map(ids.map((id) => [id, newCa.issue(id)]));
    for (const id of ids) volumes.get(id)!.publish(newCa, newPairs.get(id)!);
    await Promise.all(ids.map((id) => cluster.processes.get(id)!.waitForMessage('TLS files reloaded; new connections use them', 10_000)));
    cluster.httpsCaPem = read(newCa.caFile);

    // r1's Raft port now asks for a certificate of the new CA: one of the old is turned away.
    const oldClient = oldCa.issue('old-client');
    const newClient = newCa.issue('new-client');
    const raftPort = cluster.spec('r1').raftPort;
    const withOld = await probeTls(raftPort, { caPem: read(newCa.caFile), cert: read(oldClient.certFile), key: read(oldClient.keyFile) });
    const withNew = await probeTls(raftPort, { caPem: read(newCa.caFile), cert: read(newClient.certFile), key: read(newClient.keyFile) });
    assert.is(withOld.accepted, false, 'a peer certificate of the old CA is refused');
    assert.is(withNew.accepted, true, 'a peer certificate of the new CA is accepted');
    assert.is(withNew.fingerprint, fingerprintOf(newPairs.get('r1')!.certFile));
    assert.ok(withNew.trusted);

    // r3 comes back with no open connections: every link to and from it is a handshake on the new material.
    await cluster.processes.get('r3')!.kill('SIGKILL');
    await cluster.start('r3', { extra: volumes.get('r3')!.flags });
    await eventually(() => client.claim('validator-0', 'default', 1, 3000), 15_000, 'a claim over TLS with the new CA');
    const leader = await cluster.leader();
    const committed = (await cluster.status(leader))!.commit;
    await eventually(async () => (((await cluster.status('r3'))?.applied ?? 0) >= committed ? true : undefined), 15_000, `r3 applying through index ${committed}`);
  } finally {
    client.close();
    await cluster.stopAll();
    await dir.cleanup();
  }
});

test.run();
