import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { KeymanagerClient } from '../../agent/keymanager/client.js';
import { encryptKeystore } from '../../shared/eth/keystore.js';
import { parseInterchange, watermarks } from '../../shared/eth/slashing-protection/index.js';
import { deriveSigningKey, mnemonicToSeed } from '../../coordinator/keys/derive.js';
import { eventually, fetchAssignments, startCoordinatorProcess, writeSecrets, type StartedCoordinator } from '../support/coordinator-fixture.js';
import { KeyleaseProcess, type LogRecord } from '../support/processes.js';
import { tempDir } from '../support/temp-dir.js';
import { ValidatorClientStandin } from '../support/validator-client-standin.js';

const TTL_MS = 3000;
const COOLING_MS = 2000;
const timeOf = (r: LogRecord) => Date.parse(String(r['time']));

interface Pod {
  readonly agent: KeyleaseProcess;
  readonly client: ValidatorClientStandin;
  readonly healthPort: number;
}

async function startPod(dir: string, coordinator: StartedCoordinator, podName: string, client?: ValidatorClientStandin): Promise<Pod> {
  const standin = client ?? (await ValidatorClientStandin.start());
  const tokenFile = join(dir, `${podName}-api-token.txt`);
  await standin.writeTokenFile(tokenFile);
  const agent = new KeyleaseProcess([
    'agent', '--coordinator', coordinator.grpcEndpoint, '--pod-name', podName, '--keys', '2',
    '--keymanager-url', standin.baseUrl, '--keymanager-token-file', tokenFile, '--health-listen', '127.0.0.1:0', '--log-level', 'debug',
  ]);
  const started = await agent.waitForMessage('agent started');
  return { agent, client: standin, healthPort: Number(String(started['health']).split(':').pop()) };
}

async function withPool(run: (dir: string, coordinator: StartedCoordinator, cleanup: Array<() => Promise<unknown>>) => Promise<void>): Promise<void> {
  const dir = await tempDir('handover');
  const cleanup: Array<() => Promise<unknown>> = [];
  try {
    const secrets = await writeSecrets(dir.path);
    // A pool of exactly two keys: a second pod can only get the first pod's keys.
    const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'data'), ...secrets, extra: ['--lease-ttl-ms', String(TTL_MS), '--cooling-ms', String(COOLING_MS), '--pool-max-keys', '2'] });
    cleanup.push(() => coordinator.process.kill('SIGKILL'));
    await run(dir.path, coordinator, cleanup);
  } finally {
    for (const step of cleanup.reverse()) await step();
    await dir.cleanup();
  }
}

test('graceful stop: preStop takes the keys out of the client and releases them with its slashing protection; the next pod gets them at once, protection included', () =>
  withPool(async (dir, coordinator, cleanup) => {
    const a = await startPod(dir, coordinator, 'validator-a');
    cleanup.push(() => a.agent.kill('SIGKILL'), () => a.client.close());
    await a.agent.waitForMessage('keys claimed and written');
    const keys = a.client.heldPubkeys();
    assert.is(keys.length, 2);
    for (const pubKey of keys) assert.ok(a.client.sign(pubKey, { blockSlot: 100, sourceEpoch: 10, targetEpoch: 11 }), 'pod A signs');

    const handoverStarted = Date.now();
    const prestop = await fetch(`http://127.0.0.1:${a.healthPort}/prestop`, { method: 'POST' });
    assert.is(prestop.status, 200);
    assert.match(await prestop.text(), /released/);
    assert.equal(a.client.heldPubkeys(), [], 'the keys are out of pod A\'s client when preStop returns');
    const free = await fetchAssignments(coordinator.httpBase);
    assert.equal(free.pools['default'], { unallocated: 2, allocated: 0, cooling: 0 }, 'released with protection: no cooling');

    const b = await startPod(dir, coordinator, 'validator-b');
    cleanup.push(() => b.agent.kill('SIGKILL'), () => b.client.close());
    const claimed = await b.agent.waitForMessage('keys claimed and written');
    console.log(`graceful handover: pod B held the keys ${timeOf(claimed) - handoverStarted} ms after pod A's preStop began (agent start included)`);
    assert.equal(b.client.heldPubkeys(), keys);
    const imported = parseInterchange(b.client.importedInterchanges.at(-1)!);
    for (const pubKey of keys) {
      const marks = watermarks(imported, pubKey);
      assert.is(marks.maxBlockSlot, 100n, 'pod B\'s client got pod A\'s block watermark');
      assert.is(marks.maxTargetEpoch, 11n);
      assert.not.ok(b.client.sign(pubKey, { blockSlot: 100 }), 'a block at A\'s slot would be a double proposal: refused');
      assert.ok(b.client.sign(pubKey, { blockSlot: 101, sourceEpoch: 11, targetEpoch: 12 }));
    }
    const history = (await (await fetch(`${coordinator.httpBase}/assignments/history?pubkey=${keys[0]}`)).json()) as { records: Array<{ podName: string; end: string | null }> };
    assert.equal(history.records.map((r) => [r.podName, r.end]), [['validator-a', 'released'], ['validator-b', null]]);
  }),
);

test('pod killed without release: the next pod gets its keys only after the lease expired and the keys cooled down', () =>
  withPool(async (dir, coordinator, cleanup) => {
    const a = await startPod(dir, coordinator, 'validator-a');
    cleanup.push(() => a.agent.kill('SIGKILL'), () => a.client.close());
    await a.agent.waitForMessage('keys claimed and written');
    const keys = a.client.heldPubkeys();
    await a.agent.kill('SIGKILL');
    const lastRenewal = coordinator.process.records.filter((r) => r.msg === 'lease renewed').at(-1) ?? coordinator.process.records.find((r) => r.msg === 'keys claimed')!;

    const b = await startPod(dir, coordinator, 'validator-b');
    cleanup.push(() => b.agent.kill('SIGKILL'), () => b.client.close());
    await b.agent.waitForMessage('waiting for free keys');
    const claimed = await b.agent.waitForMessage('keys claimed and written', TTL_MS + COOLING_MS + 10_000);
    const waitedMs = timeOf(claimed) - timeOf(lastRenewal);
    console.log(`ungraceful handover: pod B held the keys ${waitedMs} ms after A's last renewal (TTL ${TTL_MS} + cooling ${COOLING_MS})`);
    assert.ok(waitedMs >= TTL_MS + COOLING_MS, `B got the keys ${waitedMs} ms after A's last renewal`);
    assert.equal(b.client.heldPubkeys(), keys);
    const history = (await (await fetch(`${coordinator.httpBase}/assignments/history?pod=validator-a`)).json()) as { records: Array<{ end: string | null }> };
    assert.equal(history.records.map((r) => r.end), ['expired', 'expired']);
  }),
);

test('coordinator unreachable: the agent deletes the keys from its client before the lease could have expired', () =>
  withPool(async (dir, coordinator, cleanup) => {
    const a = await startPod(dir, coordinator, 'validator-a');
    cleanup.push(() => a.agent.kill('SIGKILL'), () => a.client.close());
    await a.agent.waitForMessage('keys claimed and written');
    await coordinator.process.waitForMessage('lease renewed');
    const killedAt = Date.now();
    await coordinator.process.kill('SIGKILL');
    const lastReceived = timeOf(coordinator.process.records.filter((r) => r.msg === 'lease renewed').at(-1)!);
    // The fence after the coordinator died (a slow first claim on a loaded machine may have fenced once before).
    const fenced = await a.agent.waitFor((r) => r.msg === 'fenced: keys removed' && timeOf(r) >= killedAt - 50, TTL_MS * 3, 'the fence after the coordinator died');
    assert.equal(a.client.heldPubkeys(), [], 'the validator client holds no key');
    const deletedAt = a.client.requests.filter((r) => r.method === 'DELETE').at(-1)!;
    assert.ok(deletedAt, 'the keys were deleted through the Keymanager API');
    const marginMs = lastReceived + TTL_MS - timeOf(fenced);
    console.log(`fence margin with the Keymanager API: ${marginMs} ms before the earliest expiry`);
    assert.ok(marginMs > 0, `fenced ${-marginMs} ms after the lease could have expired`);
  }),
);

test('a restarted agent removes stale keys from its client before it claims anything', () =>
  withPool(async (dir, coordinator, cleanup) => {
    const client = await ValidatorClientStandin.start();
    cleanup.push(() => client.close());
    // Keys left in the client by an earlier run (here: keys of another mnemonic).
    const stale = deriveSigningKey(mnemonicToSeed('legal winner thank year wave sausage worth useful legal winner thank yellow'), 0);
    const keystore = await encryptKeystore('stale', stale.privKey, stale.pubKey, stale.path);
    await new KeymanagerClient({ baseUrl: client.baseUrl, token: client.token, timeoutMs: 5000 }).importKeystores({ keystores: [JSON.stringify(keystore)], passwords: ['stale'] });
    assert.is(client.heldPubkeys().length, 1);
    const firstRequest = client.requests.length;

    const a = await startPod(dir, coordinator, 'validator-a', client);
    cleanup.push(() => a.agent.kill('SIGKILL'));
    await a.agent.waitForMessage('keys claimed and written');
    const byAgent = client.requests.slice(firstRequest).map((r) => r.method);
    const firstDelete = byAgent.indexOf('DELETE');
    assert.ok(firstDelete > 0 && byAgent.slice(0, firstDelete).every((m) => m === 'GET'), `only lists before the leftovers are deleted (${byAgent.join(' ')})`);
    assert.ok(firstDelete < byAgent.indexOf('POST'), 'deleted before anything is imported');
    const removedAt = timeOf(a.agent.records.find((r) => r.msg === 'removed keys an earlier run left in the validator client, before claiming')!);
    const claimedAt = timeOf(coordinator.process.records.find((r) => r.msg === 'keys claimed')!);
    assert.ok(removedAt <= claimedAt, 'removed before the claim');
    assert.not.ok(client.heldPubkeys().includes('0x' + Buffer.from(stale.pubKey).toString('hex')), 'the stale key is gone');
    assert.is(client.heldPubkeys().length, 2);
  }),
);

test('a client that answers "deleted" but keeps the key fails the fence: nothing is released, the keys stay with the lease', () =>
  withPool(async (dir, coordinator, cleanup) => {
    const a = await startPod(dir, coordinator, 'validator-a');
    cleanup.push(() => a.agent.kill('SIGKILL'), () => a.client.close());
    await a.agent.waitForMessage('keys claimed and written');
    await a.client.setFault({ mode: 'delete-says-deleted-but-keeps' });
    const prestop = await fetch(`http://127.0.0.1:${a.healthPort}/prestop`, { method: 'POST' });
    assert.is(prestop.status, 200);
    assert.match(await prestop.text(), /will expire/);
    await a.agent.waitForMessage('could not prove the keys were removed from the validator client: not releasing, the lease will expire and the keys cool down');
    const after = await fetchAssignments(coordinator.httpBase);
    assert.equal(after.pods.map((p) => p.podName), ['validator-a'], 'the lease was not released');
    // Nobody renews it now: it expires and the keys cool down before anyone else may have them.
    await eventually(async () => ((await fetchAssignments(coordinator.httpBase)).pools['default']!.cooling === 2 ? true : undefined), TTL_MS * 3, 'the keys to cool down');
  }),
);

test('bad slashing protection on release is refused and changes nothing', () =>
  withPool(async (_dir, coordinator) => {
    const { CoordinatorClient, CoordinatorCallError } = await import('../../agent/coordinator-client.js');
    const client = new CoordinatorClient([coordinator.grpcEndpoint]);
    try {
      const lease = await client.claim('validator-a', 'default', 1, 30_000);
      const own = lease.keys[0]!.pubKey;
      const gvr = parseInterchange(lease.keys[0]!.slashingProtection).metadata.genesisValidatorsRoot;
      const interchange = (root: string, pubkey: string) => JSON.stringify({ metadata: { interchange_format_version: '5', genesis_validators_root: root }, data: [{ pubkey, signed_blocks: [{ slot: '5' }], signed_attestations: [] }] });
      const cases: Array<[string, RegExp]> = [
        ['{"metadata":', /not valid JSON|JSON/],
        [interchange('0x' + '22'.repeat(32), own), /genesis/],
        [interchange(gvr, '0x' + 'ab'.repeat(48)), /0xabab.*(not|does not)/],
      ];
      const shape = (doc: Awaited<ReturnType<typeof fetchAssignments>>) => ({ pods: doc.pods.map(({ podName, leaseId, pubKeys }) => ({ podName, leaseId, pubKeys })), pools: doc.pools });
      for (const [slashingProtection, pattern] of cases) {
        await client.renew('validator-a', lease.leaseId, 5000);
        const before = shape(await fetchAssignments(coordinator.httpBase));
        try {
          await client.release('validator-a', lease.leaseId, 5000, { slashingProtection });
          assert.unreachable('accepted bad slashing protection');
        } catch (error) {
          assert.instance(error, CoordinatorCallError);
          assert.is((error as InstanceType<typeof CoordinatorCallError>).refusalCode, 'INVALID_INTERCHANGE');
          assert.match((error as Error).message, pattern);
        }
        assert.equal(shape(await fetchAssignments(coordinator.httpBase)), before, 'nothing changed');
      }
      const reason = await client.release('validator-a', lease.leaseId, 5000, { reason: 'bored' as 'released' }).catch((error: Error) => error);
      assert.match(String(reason), /neither released nor fenced/);
    } finally {
      client.close();
    }
  }),
);

test.run();
