import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeymanagerClient } from '../../agent/keymanager/client.js';
import { encryptKeystore } from '../../shared/eth/keystore.js';
import { KNOWN_NETWORKS } from '../../shared/eth/networks.js';
import { parseInterchange, watermarks } from '../../shared/eth/slashing-protection/index.js';
import { deriveSigningKey, mnemonicToSeed } from '../../coordinator/keys/derive.js';
import { eventually, fetchAssignments, startCoordinatorProcess, writeSecrets, type StartedCoordinator } from '../support/coordinator-fixture.js';
import { KeyleaseProcess, type LogRecord } from '../support/processes.js';
import { tempDir } from '../support/temp-dir.js';
import { ValidatorClientStandin } from '../support/validator-client-standin.js';

const TTL_MS = 3000;
const COOLING_MS = 2000;
const timeOf = (r: LogRecord) => Date.parse(String(r['time']));
/** A preStop that hangs is a failure, not a test that never ends. */
const PRESTOP_TIMEOUT_MS = 60_000;

interface Pod {
  readonly agent: KeyleaseProcess;
  readonly client: ValidatorClientStandin;
  readonly healthPort: number;
}

interface QuarantineView {
  pools: Record<string, { unallocated: number; allocated: number; cooling: number; quarantined: number }>;
  pods: Array<{ podName: string }>;
  quarantined: Array<{ pubKey: string; podName: string; leaseId: string; cause: string }>;
}
const assignmentsOf = async (httpBase: string) => (await fetchAssignments(httpBase)) as unknown as QuarantineView;

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

async function withPool(run: (dir: string, coordinator: StartedCoordinator, cleanup: Array<() => Promise<unknown>>) => Promise<void>, ttlMs = TTL_MS): Promise<void> {
  const dir = await tempDir('handover');
  const cleanup: Array<() => Promise<unknown>> = [];
  try {
    const secrets = await writeSecrets(dir.path);
    // A pool of exactly two keys (on mainnet's slot clock): a second pod can only get the first pod's keys.
    const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'data'), ...secrets, extra: ['--lease-ttl-ms', String(ttlMs), '--cooling-ms', String(COOLING_MS), '--pool-max-keys', '2'] });
    cleanup.push(() => coordinator.process.kill('SIGKILL'));
    await run(dir.path, coordinator, cleanup);
  } finally {
    for (const step of cleanup.reverse()) await step();
    await dir.cleanup();
  }
}

const health = async (pod: Pod) => {
  const response = await fetch(`http://127.0.0.1:${pod.healthPort}/healthz`);
  return { status: response.status, text: await response.text() };
};

const deletes = (client: ValidatorClientStandin) => client.requests.filter((r) => r.method === 'DELETE').length;

/** Each key signs a block at `slot` and an attestation `source` → `source + 1`; true if every one was signed. */
const signAll = (client: ValidatorClientStandin, keys: readonly string[], slot: number, source: number) =>
  keys.map((pubKey) => client.sign(pubKey, { blockSlot: slot, sourceEpoch: source, targetEpoch: source + 1 })).every(Boolean);

/** The pool's slashing protection for `pubKey`, from the admin export. */
async function poolWatermarks(dir: string, coordinator: StartedCoordinator, pubKey: string) {
  const token = (await readFile(join(dir, 'data', 'api-token.txt'), 'utf8')).trim();
  const exported = await fetch(`${coordinator.httpBase}/slashing-protection`, { headers: { authorization: `Bearer ${token}` } });
  return watermarks(parseInterchange(await exported.json()), pubKey);
}

test('graceful stop: preStop takes the keys out of the client, proves it, and releases them with its slashing protection; the next pod gets them at once, protection included', () =>
  withPool(async (dir, coordinator, cleanup) => {
    const a = await startPod(dir, coordinator, 'validator-a');
    cleanup.push(() => a.agent.kill('SIGKILL'), () => a.client.close());
    await a.agent.waitForMessage('keys claimed and written');
    const keys = a.client.heldPubkeys();
    assert.is(keys.length, 2);
    for (const pubKey of keys) assert.ok(a.client.sign(pubKey, { blockSlot: 100, sourceEpoch: 10, targetEpoch: 11 }), 'pod A signs');

    const handoverStarted = Date.now();
    const prestop = await fetch(`http://127.0.0.1:${a.healthPort}/prestop`, { method: 'POST', signal: AbortSignal.timeout(PRESTOP_TIMEOUT_MS) });
    assert.is(prestop.status, 200);
    assert.match(await prestop.text(), /handed back/);
    assert.equal(a.client.heldPubkeys(), [], 'the keys are out of pod A\'s client when preStop returns');
    const free = await assignmentsOf(coordinator.httpBase);
    assert.equal(free.pools['default'], { unallocated: 2, allocated: 0, cooling: 0, quarantined: 0 }, 'removal proven and protection returned: free at once');

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

test('pod killed without release while its client keeps the keys: they are quarantined when the lease expires, not handed on after cooling; once the pod is gone and the operator confirms, the next pod gets them with watermarks from the clock', () =>
  withPool(async (dir, coordinator, cleanup) => {
    const a = await startPod(dir, coordinator, 'validator-a');
    cleanup.push(() => a.agent.kill('SIGKILL'), () => a.client.close());
    const claimedByA = await a.agent.waitForMessage('keys claimed and written');
    const keys = a.client.heldPubkeys();
    await a.agent.kill('SIGKILL');
    // Nothing takes the keys out of a client whose agent is dead: it goes on signing.
    assert.ok(signAll(a.client, keys, 100, 10), 'pod A\'s client still signs');

    const b = await startPod(dir, coordinator, 'validator-b');
    cleanup.push(() => b.agent.kill('SIGKILL'), () => b.client.close());
    await b.agent.waitForMessage('waiting for free keys');
    const expired = await coordinator.process.waitForMessage('lease expired without renewal', TTL_MS * 3);
    const quarantined = await assignmentsOf(coordinator.httpBase);
    assert.equal(quarantined.quarantined.map((k) => [k.pubKey, k.podName, k.leaseId, k.cause]).sort(), keys.map((k) => [k, 'validator-a', claimedByA['leaseId'], 'expired']));
    assert.equal(quarantined.pools['default'], { unallocated: 0, allocated: 0, cooling: 0, quarantined: 2 });
    await b.agent.waitFor((r) => r.msg === 'waiting for free keys' && timeOf(r) >= timeOf(expired) + COOLING_MS, 20_000, 'a refused claim after the cooling time');
    assert.equal(b.client.heldPubkeys(), [], 'no second holder while the first client may sign');

    // Pod A is gone (its client stopped); the operator confirms it and releases the keys.
    await a.client.close();
    const token = (await readFile(join(dir, 'data', 'api-token.txt'), 'utf8')).trim();
    const releasedAt = Date.now();
    const release = await fetch(`${coordinator.httpBase}/admin/quarantine/release`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ pubkeys: keys, confirm: 'the holders stopped signing' }),
    });
    assert.is(release.status, 200);
    const claimed = await b.agent.waitForMessage('keys claimed and written', 20_000);
    console.log(`ungraceful handover: pod B held the keys ${timeOf(claimed) - timeOf(expired)} ms after A's lease expired (operator release ${timeOf(claimed) - releasedAt} ms before)`);
    assert.equal(b.client.heldPubkeys(), keys);
    const clockSlot = BigInt(Math.floor((releasedAt - KNOWN_NETWORKS.mainnet.genesisTime * 1000) / 12_000));
    const imported = parseInterchange(b.client.importedInterchanges.at(-1)!);
    for (const pubKey of keys) {
      const marks = watermarks(imported, pubKey);
      assert.ok(marks.maxBlockSlot !== null && marks.maxBlockSlot >= clockSlot, `block watermark ${marks.maxBlockSlot} ≥ mainnet's slot ${clockSlot}`);
      assert.ok(marks.maxTargetEpoch !== null && marks.maxTargetEpoch >= clockSlot / 32n, `target watermark ${marks.maxTargetEpoch} ≥ epoch ${clockSlot / 32n}`);
    }
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

test('a restarted agent removes what its client still holds before it claims, retrying past a DELETE that keeps the key (Lodestar 1.5.1), and proves the removal: the quarantined keys return with the protection of the DELETE answers', () =>
  withPool(async (dir, coordinator, cleanup) => {
    const client = await ValidatorClientStandin.start();
    cleanup.push(() => client.close());
    const a = await startPod(dir, coordinator, 'validator-a', client);
    cleanup.push(() => a.agent.kill('SIGKILL'));
    await a.agent.waitForMessage('keys claimed and written');
    const keys = client.heldPubkeys();
    assert.ok(signAll(client, keys, 100, 10));
    await a.agent.kill('SIGKILL');
    await coordinator.process.waitForMessage('lease expired without renewal', TTL_MS * 3);
    assert.equal((await assignmentsOf(coordinator.httpBase)).quarantined.map((k) => [k.pubKey, k.cause]).sort(), keys.map((k) => [k, 'expired']));
    // The client goes on signing, and holds a key of another run besides.
    assert.ok(signAll(client, keys.slice(0, 1), 150, 11));
    const stale = deriveSigningKey(mnemonicToSeed('legal winner thank year wave sausage worth useful legal winner thank yellow'), 0);
    const keystore = await encryptKeystore('stale', stale.privKey, stale.pubKey, stale.path);
    await new KeymanagerClient({ baseUrl: client.baseUrl, token: client.token, timeoutMs: 5000 }).importKeystores({ keystores: [JSON.stringify(keystore)], passwords: ['stale'] });
    const stalePubKey = '0x' + Buffer.from(stale.pubKey).toString('hex');
    assert.is(client.heldPubkeys().length, 3);
    await client.setFault({ mode: 'first-delete-keeps' });
    const firstRequest = client.requests.length;

    const restarted = await startPod(dir, coordinator, 'validator-a', client);
    cleanup.push(() => restarted.agent.kill('SIGKILL'));
    await restarted.agent.waitForMessage('keys claimed and written');
    const byAgent = client.requests.slice(firstRequest).map((r) => r.method);
    const firstImport = byAgent.indexOf('POST');
    const beforeImport = byAgent.slice(0, firstImport);
    assert.ok(beforeImport.every((m) => m === 'GET' || m === 'DELETE'), `only lists and deletes before anything is imported (${byAgent.join(' ')})`);
    assert.ok(beforeImport.filter((m) => m === 'DELETE').length >= 2, `DELETE repeated until GET no longer lists the keys (${byAgent.join(' ')})`);
    assert.is(beforeImport.at(-1), 'GET', 'the last DELETE was checked by a GET');
    assert.is((await restarted.agent.waitForMessage('removed keys an earlier run left in the validator client, before claiming'))['keys'], 3);
    assert.is((await restarted.agent.waitForMessage('reported the keys removed from the validator client'))['returnedFromQuarantine'], 2);
    const proven = await coordinator.process.waitForMessage('quarantined keys proven removed by their pod\'s agent: back in the pool');
    const reclaimed = coordinator.process.records.filter((r) => r.msg === 'keys claimed' && r['podName'] === 'validator-a').at(-1)!;
    assert.ok(timeOf(proven) <= timeOf(reclaimed), 'proven before the new claim');
    assert.not.ok(client.heldPubkeys().includes(stalePubKey), 'the stale key is gone');
    assert.equal(client.heldPubkeys(), keys, 'the returned keys, claimed again');
    // The pool holds what the client signed, up to the signature made after the lease expired.
    assert.equal(await poolWatermarks(dir, coordinator, keys[0]!), { maxBlockSlot: 150n, maxSourceEpoch: 11n, maxTargetEpoch: 12n });
    assert.equal(await poolWatermarks(dir, coordinator, keys[1]!), { maxBlockSlot: 100n, maxSourceEpoch: 10n, maxTargetEpoch: 11n });
  }),
);

test('a client that answers "deleted" but keeps the key: the agent retries, releases nothing while the client lists it and reports itself unhealthy; once the key is really gone it releases with the protection of the DELETE answers', () =>
  withPool(async (dir, coordinator, cleanup) => {
    const a = await startPod(dir, coordinator, 'validator-a');
    cleanup.push(() => a.agent.kill('SIGKILL'), () => a.client.close());
    await a.agent.waitForMessage('keys claimed and written');
    const keys = a.client.heldPubkeys();
    assert.ok(signAll(a.client, keys, 100, 10));
    await a.client.setFault({ mode: 'delete-says-deleted-but-keeps' });
    const prestop = fetch(`http://127.0.0.1:${a.healthPort}/prestop`, { method: 'POST', signal: AbortSignal.timeout(PRESTOP_TIMEOUT_MS) });
    await eventually(async () => (deletes(a.client) >= 2 ? true : undefined), 10_000, 'the agent to repeat its DELETE');

    const unhealthy = await health(a);
    assert.is(unhealthy.status, 503);
    assert.match(unhealthy.text, /removal from the client not proven/);
    const held = await assignmentsOf(coordinator.httpBase);
    assert.equal(held.pods.map((p) => p.podName), ['validator-a'], 'the lease was not released');
    assert.is(held.pools['default']!.allocated, 2);
    assert.not.ok(coordinator.process.records.some((r) => r.msg === 'keys released'));
    // It said "deleted", yet it signs: this is what the pool must learn about.
    assert.equal(a.client.heldPubkeys(), keys);
    assert.ok(signAll(a.client, keys, 200, 11), 'the client still signs after its "deleted"');

    const removedAt = Date.now();
    await a.client.setFault(null);
    const answer = await prestop;
    assert.is(answer.status, 200);
    assert.match(await answer.text(), /handed back/);
    assert.equal(a.client.heldPubkeys(), []);
    const released = await coordinator.process.waitForMessage('keys released');
    assert.ok(timeOf(released) >= removedAt - 5, 'released only after the client really let go');
    assert.is(released['quarantined'], 0);
    assert.equal((await assignmentsOf(coordinator.httpBase)).pools['default'], { unallocated: 2, allocated: 0, cooling: 0, quarantined: 0 });
    assert.ok(Number((await a.agent.waitForMessage('removal from the validator client proven'))['attempts']) >= 3, 'proven only by a later attempt');
    assert.is((await a.agent.exited).code, 0, 'the agent ends once it handed the keys back');

    const b = await startPod(dir, coordinator, 'validator-b');
    cleanup.push(() => b.agent.kill('SIGKILL'), () => b.client.close());
    await b.agent.waitForMessage('keys claimed and written');
    const imported = parseInterchange(b.client.importedInterchanges.at(-1)!);
    for (const pubKey of keys) {
      assert.equal(watermarks(imported, pubKey), { maxBlockSlot: 200n, maxSourceEpoch: 11n, maxTargetEpoch: 12n }, 'what A signed after its first "deleted" reached pod B');
      assert.not.ok(b.client.sign(pubKey, { blockSlot: 200 }), 'pod B refuses A\'s last block slot');
    }
  }, 15_000),
);

test('a client that answers "deleted" but keeps the key while the lease runs out: the keys are quarantined, not handed on after cooling, and return when the agent finally proves removal, with the protection the client exported', () =>
  withPool(async (dir, coordinator, cleanup) => {
    const a = await startPod(dir, coordinator, 'validator-a');
    cleanup.push(() => a.agent.kill('SIGKILL'), () => a.client.close());
    await a.agent.waitForMessage('keys claimed and written');
    const keys = a.client.heldPubkeys();
    assert.ok(signAll(a.client, keys, 100, 10));
    await a.client.setFault({ mode: 'delete-says-deleted-but-keeps' });
    const prestop = fetch(`http://127.0.0.1:${a.healthPort}/prestop`, { method: 'POST', signal: AbortSignal.timeout(PRESTOP_TIMEOUT_MS) });

    const expired = await coordinator.process.waitForMessage('lease expired without renewal', TTL_MS * 3);
    assert.equal((await assignmentsOf(coordinator.httpBase)).quarantined.map((k) => [k.pubKey, k.cause]).sort(), keys.map((k) => [k, 'expired']));
    const b = await startPod(dir, coordinator, 'validator-b');
    cleanup.push(() => b.agent.kill('SIGKILL'), () => b.client.close());
    await b.agent.waitFor((r) => r.msg === 'waiting for free keys' && timeOf(r) >= timeOf(expired) + COOLING_MS, 20_000, 'a refused claim after the cooling time');
    assert.equal(b.client.heldPubkeys(), [], 'no second holder while the first client still lists the keys');
    assert.is((await health(a)).status, 503);
    assert.ok(deletes(a.client) >= 2, 'the agent kept trying');
    assert.ok(signAll(a.client, keys, 200, 11), 'pod A\'s client still signs');

    await a.client.setFault(null);
    const answer = await prestop;
    assert.is(answer.status, 200, 'handed back: the lease ended, but the proof returned the keys');
    assert.is((await a.agent.waitForMessage('reported the keys removed from the validator client'))['returnedFromQuarantine'], 2);
    await b.agent.waitForMessage('keys claimed and written', 20_000);
    const imported = parseInterchange(b.client.importedInterchanges.at(-1)!);
    for (const pubKey of keys) {
      assert.equal(watermarks(imported, pubKey), { maxBlockSlot: 200n, maxSourceEpoch: 11n, maxTargetEpoch: 12n }, 'the client\'s own final export, not the clock\'s guess');
    }
  }),
);

test('bad slashing protection on release or with a proof of removal is refused and changes nothing; a proof frees no leased key', () =>
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
      // A proof of removal with unreadable protection is refused; one for keys still under a live lease frees nothing.
      await client.renew('validator-a', lease.leaseId, 5000);
      const beforeProof = shape(await fetchAssignments(coordinator.httpBase));
      const badProof = await client.reportRemoved('validator-a', [own], '{"metadata":', 5000).catch((error: Error) => error);
      assert.instance(badProof, CoordinatorCallError);
      assert.is((badProof as InstanceType<typeof CoordinatorCallError>).refusalCode, 'INVALID_INTERCHANGE');
      assert.equal((await client.reportRemoved('validator-a', [own], interchange(gvr, own), 5000)).returned, [], 'a leased key is not quarantined: nothing returns');
      assert.equal(shape(await fetchAssignments(coordinator.httpBase)), beforeProof, 'nothing changed');
      const reason = await client.release('validator-a', lease.leaseId, 5000, { reason: 'bored' as 'released' }).catch((error: Error) => error);
      assert.match(String(reason), /neither released nor fenced/);
    } finally {
      client.close();
    }
  }),
);

test.run();
