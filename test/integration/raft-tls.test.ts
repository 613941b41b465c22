import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { credentials, status } from '@grpc/grpc-js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoordinatorCallError, CoordinatorClient } from '../../agent/coordinator-client.js';
import { eventually, writeSecrets } from '../support/coordinator-fixture.js';
import { createTestCa } from '../support/certs.js';
import { TestCluster } from '../support/cluster-fixture.js';
import { KeyleaseProcess, runKeylease } from '../support/processes.js';
import { tempDir } from '../support/temp-dir.js';
import { requestJson } from '../../shared/http/json-request.js';

test('with certificates, replicas talk mutual TLS (a peer of another CA is shut out) and agents reach them over TLS only', async () => {
  const dir = await tempDir('raft-tls');
  const secrets = await writeSecrets(dir.path);
  const ca = createTestCa(dir.path, 'ca');
  const stranger = createTestCa(dir.path, 'stranger');
  const cluster = await TestCluster.create(dir.path, secrets, ['r1', 'r2', 'r3'], [], { httpsCaPem: await readFile(ca.caFile) });
  const tlsArgs = (authority: typeof ca, id: string) => {
    const { certFile, keyFile } = authority.issue(id);
    return ['--tls-ca-file', authority.caFile, '--tls-cert-file', certFile, '--tls-key-file', keyFile];
  };
  let agent: KeyleaseProcess | null = null;
  const plain = new CoordinatorClient(cluster.replicas.map((r) => r.grpcEndpoint));
  const trusting = new CoordinatorClient(cluster.replicas.map((r) => r.grpcEndpoint), credentials.createSsl(await readFile(ca.caFile)));
  try {
    await Promise.all([
      cluster.start('r1', { extra: tlsArgs(ca, 'r1') }),
      cluster.start('r2', { extra: tlsArgs(ca, 'r2') }),
      cluster.start('r3', { extra: tlsArgs(stranger, 'r3') }),
    ]);
    const leader = await cluster.leader(['r1', 'r2']);

    agent = new KeyleaseProcess(['agent', '--coordinator', cluster.agentEndpoints, '--tls-ca-file', ca.caFile, '--pod-name', 'validator-0', '--keys', '1', '--layout', 'plain', '--out', join(dir.path, 'pod'), '--health-listen', '127.0.0.1:0']);
    await agent.waitForMessage('keys claimed and written', 30_000);
    await eventually(() => trusting.claim('validator-1', 'default', 1, 3000), 10_000, 'a claim over TLS');

    try {
      await plain.claim('validator-2', 'default', 1, 3000);
      assert.unreachable('a plaintext client was served');
    } catch (error) {
      assert.instance(error, CoordinatorCallError);
      assert.is((error as CoordinatorCallError).status, status.UNAVAILABLE);
    }

    // The HTTP port (admin Keymanager API: keystores and passwords) is HTTPS too, and nothing else.
    const httpPort = cluster.spec(leader).httpPort;
    const overTls = await requestJson(`https://127.0.0.1:${httpPort}/healthz`, { caPem: await readFile(ca.caFile) });
    assert.is(overTls.status, 200);
    await requestJson(`http://127.0.0.1:${httpPort}/healthz`).then(
      (plain) => assert.unreachable(`plain HTTP was answered ${plain.status}`),
      (error: Error) => assert.instance(error, Error),
    );

    // `keylease cluster status` reads the replicas over HTTPS, trusting their CA; without it, it cannot.
    const https = [cluster.spec('r1').httpBase, cluster.spec('r2').httpBase].join(',');
    const trusted = await runKeylease(['cluster', 'status', '--http', https, '--tls-ca-file', ca.caFile]);
    assert.is(trusted.code, 0, trusted.output);
    assert.match(trusted.output, new RegExp(`${leader} +leader`));
    assert.not.match(trusted.output, 'unreachable');
    const untrusted = await runKeylease(['cluster', 'status', '--http', https]);
    assert.match(untrusted.output, /unreachable +https:\/\/127\.0\.0\.1/);

    // Everything above was committed by r1 and r2; r3, whose certificate the others do not trust, saw none of it.
    const leaderStatus = (await cluster.status(leader))!;
    assert.ok(leaderStatus.commit >= 3, `the leader committed ${leaderStatus.commit} entries`);
    cluster.httpsCaPem = await readFile(stranger.caFile);
    const outsider = (await cluster.status('r3'))!;
    assert.is(outsider.lead, null, 'r3 never heard from the leader');
    assert.ok(outsider.applied <= 1, `r3 applied only its own bootstrap configuration entry (applied ${outsider.applied})`);
  } finally {
    plain.close();
    trusting.close();
    await agent?.kill('SIGKILL');
    await cluster.stopAll();
    await dir.cleanup();
  }
});

test.run();
