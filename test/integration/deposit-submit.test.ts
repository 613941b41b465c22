import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { getAddress } from 'ethers';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { eventually, fetchAssignments, startCoordinatorProcess, writeSecrets } from '../support/coordinator-fixture.js';
import { TestCluster } from '../support/cluster-fixture.js';
import { coordinatorDepositFlags, depositEventsByKey, startTestChain } from '../support/evm.js';
import { KeyleaseProcess, runKeylease } from '../support/processes.js';
import { RpcFilterProxy } from '../support/rpc-filter-proxy.js';
import { tempDir } from '../support/temp-dir.js';

const WITHDRAWAL_ADDRESS = getAddress('0x0f51bb10119727a7e5ea3538074fb341f56b09ad');

test('submit mode: new keys are deposited once and claimable only after confirmation; the agent shows it is waiting', async () => {
  const dir = await tempDir('deposit-submit');
  const chain = await startTestChain();
  const processes: KeyleaseProcess[] = [];
  try {
    const secrets = await writeSecrets(dir.path);
    const fundingKeyFile = join(dir.path, 'funding.key');
    await writeFile(fundingKeyFile, chain.chain.fundingPrivKey, { mode: 0o600 });
    const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'data'), ...secrets, extra: coordinatorDepositFlags(chain, chain.chain.rpcUrl, fundingKeyFile) });
    processes.push(coordinator.process);
    const agent = new KeyleaseProcess(['agent', '--coordinator', coordinator.grpcEndpoint, '--pod-name', 'validator-0', '--keys', '2', '--layout', 'plain', '--out', join(dir.path, 'pod'), '--health-listen', '127.0.0.1:0']);
    processes.push(agent);
    await agent.waitForMessage('waiting for deposits', 30_000);
    const claimed = await agent.waitForMessage('keys claimed and written', 60_000);
    const confirmed = coordinator.process.records.find((r) => r.msg === 'deposits confirmed; their keys are claimable')!;
    assert.ok(Date.parse(String(claimed['time'])) >= Date.parse(String(confirmed['time'])), 'claimed only after the deposits confirmed');

    const assignments = (await fetchAssignments(coordinator.httpBase)) as unknown as { pods: Array<{ pubKeys: string[] }>; deposits: Record<string, unknown> };
    assert.equal(assignments.deposits['default'], { awaiting: 0, signed: 0, confirmed: 2 });
    const events = await depositEventsByKey(chain);
    for (const pubKey of assignments.pods[0]!.pubKeys) assert.is(events.get(pubKey), 1, `one DepositEvent for ${pubKey}`);
    assert.is(events.size, 2);
    const metrics = await (await fetch(`${coordinator.httpBase}/metrics`)).text();
    assert.match(metrics, /keylease_deposits\{pool="default",status="confirmed"\} 2/);
  } finally {
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await chain.close();
    await dir.cleanup();
  }
});

test('leader killed after committing deposit transactions, before and after broadcasting them: exactly one deposit per key', async () => {
  const dir = await tempDir('deposit-crash');
  const chain = await startTestChain();
  const proxy = await RpcFilterProxy.start(chain.chain.rpcUrl);
  let cluster: TestCluster | null = null;
  const client = { current: null as CoordinatorClient | null };
  try {
    const secrets = await writeSecrets(dir.path);
    const fundingKeyFile = join(dir.path, 'funding.key');
    await writeFile(fundingKeyFile, chain.chain.fundingPrivKey, { mode: 0o600 });
    cluster = await TestCluster.create(dir.path, secrets, ['r1', 'r2', 'r3'], coordinatorDepositFlags(chain, proxy.url, fundingKeyFile));
    await cluster.startAll();
    client.current = new CoordinatorClient(cluster.replicas.map((r) => r.grpcEndpoint));
    const claim = (pod: string) => client.current!.claim(pod, 'default', 1, 5000);
    /** Claims until the leader has taken the claim (and derived its key): it answers AWAITING_DEPOSITS. */
    const startClaim = (pod: string) =>
      eventually(
        () => claim(pod).then(() => 'granted', (error: unknown) => ((error as { refusalCode?: string }).refusalCode === 'AWAITING_DEPOSITS' ? 'awaiting' : undefined)),
        30_000,
        `the leader to take ${pod}'s claim`,
      );

    // 1. Committed, never broadcast: the node refuses broadcasts, then the leader dies.
    proxy.refused.add('eth_sendRawTransaction');
    const first = await cluster.leader();
    assert.is(await startClaim('pod-a'), 'awaiting');
    await cluster.processes.get(first)!.waitForMessage('deposit transactions committed', 30_000);
    await cluster.processes.get(first)!.kill('SIGKILL');
    assert.is((await depositEventsByKey(chain)).size, 0, 'nothing reached the chain');
    proxy.refused.delete('eth_sendRawTransaction');
    const second = await cluster.leader(['r1', 'r2', 'r3'].filter((id) => id !== first));
    await eventually(() => claim('pod-a'), 30_000, 'pod-a to get its key once the new leader broadcast the committed deposit');
    await cluster.start(first);

    // 2. Broadcast but not mined: blocks stop, the leader dies, blocks resume.
    await chain.provider.send('evm_setAutomine', [false]);
    assert.is(await startClaim('pod-b'), 'awaiting');
    await cluster.processes.get(second)!.waitForMessage('deposit transactions committed', 30_000);
    await eventually(async () => ((await chain.provider.send('eth_getBlockByNumber', ['pending', false])) as { transactions: string[] }).transactions.length > 0 ? true : undefined, 10_000, 'the deposit to be in the mempool');
    await cluster.processes.get(second)!.kill('SIGKILL');
    await cluster.leader(['r1', 'r2', 'r3'].filter((id) => id !== second));
    await chain.provider.send('evm_setAutomine', [true]);
    await chain.provider.send('evm_mine', []);
    await eventually(() => claim('pod-b'), 30_000, 'pod-b to get its key');

    const events = await depositEventsByKey(chain);
    assert.is(events.size, 2, 'two keys deposited');
    for (const [pubKey, count] of events) assert.is(count, 1, `exactly one DepositEvent for ${pubKey}`);
  } finally {
    client.current?.close();
    await cluster?.stopAll();
    await proxy.close();
    await chain.close();
    await dir.cleanup();
  }
});

test('export mode: new keys are claimable at once, and their deposit data is written in staking-deposit-cli\'s format', async () => {
  const dir = await tempDir('deposit-export');
  const processes: KeyleaseProcess[] = [];
  try {
    const secrets = await writeSecrets(dir.path);
    const dataDir = join(dir.path, 'data');
    const coordinator = await startCoordinatorProcess({ dataDir, ...secrets, extra: ['--deposit-mode', 'export', '--network', 'hoodi', '--withdrawal-address', WITHDRAWAL_ADDRESS] });
    processes.push(coordinator.process);
    const agent = new KeyleaseProcess(['agent', '--coordinator', coordinator.grpcEndpoint, '--pod-name', 'validator-0', '--keys', '2', '--layout', 'plain', '--out', join(dir.path, 'pod'), '--health-listen', '127.0.0.1:0']);
    processes.push(agent);
    await agent.waitForMessage('keys claimed and written', 30_000);
    const written = await coordinator.process.waitForMessage('deposit data written for new keys: deposit them before they are used');
    const entries = JSON.parse(await readFile(String(written['file']), 'utf8')) as Array<{ pubkey: string; withdrawal_credentials: string; amount: number; fork_version: string; network_name: string }>;
    const assignments = await fetchAssignments(coordinator.httpBase);
    assert.equal(entries.map((e) => '0x' + e.pubkey).sort(), [...assignments.pods[0]!.pubKeys].sort());
    for (const entry of entries) {
      assert.is(entry.withdrawal_credentials, '01' + '00'.repeat(11) + WITHDRAWAL_ADDRESS.slice(2).toLowerCase());
      assert.is(entry.amount, 32_000_000_000);
      assert.is(entry.fork_version, '10000910');
      assert.is(entry.network_name, 'hoodi');
    }
  } finally {
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await dir.cleanup();
  }
});

test('a wrong chain id or a malformed withdrawal address stops the coordinator before anything is sent', async () => {
  const dir = await tempDir('deposit-bad');
  const chain = await startTestChain();
  try {
    const secrets = await writeSecrets(dir.path);
    const fundingKeyFile = join(dir.path, 'funding.key');
    await writeFile(fundingKeyFile, chain.chain.fundingPrivKey, { mode: 0o600 });
    const base = ['coordinator', '--data-dir', join(dir.path, 'data'), '--kek-file', secrets.kekFile, '--mnemonic-file', secrets.mnemonicFile, '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0'];
    const flags = coordinatorDepositFlags(chain, chain.chain.rpcUrl, fundingKeyFile);
    const before = await chain.activity();
    const wrongChain = await runKeylease([...base, ...flags.map((f, i) => (flags[i - 1] === '--chain-id' ? '1' : f))]);
    assert.is(wrongChain.code, 2);
    assert.match(wrongChain.output, /chain id 31337, but network custom is chain id 1/);
    const badAddress = await runKeylease([...base, ...flags.map((f) => (f === WITHDRAWAL_ADDRESS ? WITHDRAWAL_ADDRESS.slice(0, 10) + 'z' + WITHDRAWAL_ADDRESS.slice(11) : f))]);
    assert.is(badAddress.code, 2);
    assert.match(badAddress.output, /--withdrawal-address/);
    await writeFile(fundingKeyFile, '0x' + randomBytes(8).toString('hex'));
    const badKey = await runKeylease([...base, ...flags]);
    assert.is(badKey.code, 2);
    assert.match(badKey.output, /does not hold a 0x-prefixed 32-byte private key/);
    assert.equal(await chain.activity(), before, 'nothing reached the chain');
  } finally {
    await chain.close();
    await dir.cleanup();
  }
});

test.run();
