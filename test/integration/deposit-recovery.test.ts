import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Wallet } from 'ethers';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { eventually, startCoordinatorProcess, writeSecrets } from '../support/coordinator-fixture.js';
import { coordinatorDepositFlags, depositEventsByKey, randomUnfundedKey, startTestChain, TEST_WITHDRAWAL_ADDRESS } from '../support/evm.js';
import { KeyleaseProcess, runKeylease } from '../support/processes.js';
import { RpcFilterProxy } from '../support/rpc-filter-proxy.js';
import { tempDir } from '../support/temp-dir.js';

test('a deposit whose nonce another sender took is signed again with the next nonce, committed first: exactly one deposit; the repeated warning is written once', async () => {
  const dir = await tempDir('deposit-nonce');
  const chain = await startTestChain();
  const proxy = await RpcFilterProxy.start(chain.chain.rpcUrl);
  const processes: KeyleaseProcess[] = [];
  const client = { current: null as CoordinatorClient | null };
  try {
    const secrets = await writeSecrets(dir.path);
    const fundingKeyFile = join(dir.path, 'funding.key');
    await writeFile(fundingKeyFile, chain.chain.fundingPrivKey, { mode: 0o600 });
    proxy.refused.add('eth_sendRawTransaction');
    const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'data'), ...secrets, extra: [...coordinatorDepositFlags(chain, proxy.url, fundingKeyFile), '--restore-gap', '0'] });
    processes.push(coordinator.process);

    // Startup said which chain, fork, contract and withdrawal credentials it will use, and what the wallet holds.
    const network = await coordinator.process.waitForMessage('network');
    assert.equal(
      [network['chainId'], network['genesisForkVersion'], network['depositContract'], network['withdrawalCredentialsType'], network['withdrawalAddress'], network['fundingAddress'], network['fundingBalanceEth']],
      [31337, chain.chain.network.genesisForkVersion, chain.chain.network.depositContractAddress, '0x01', TEST_WITHDRAWAL_ADDRESS, chain.chain.fundingAddress, '100000.0'],
    );

    client.current = new CoordinatorClient([coordinator.grpcEndpoint]);
    const claim = () => client.current!.claim('pod-a', 'default', 1, 10_000);
    assert.is(await claim().then(() => 'granted', (error: { refusalCode?: string }) => error.refusalCode), 'AWAITING_DEPOSITS');
    const committed = await coordinator.process.waitForMessage('deposit transactions committed', 30_000);
    const takenNonce = committed['firstNonce'] as number;
    // The broadcast keeps failing round after round; the warning about it is written once.
    await eventually(async () => ((proxy.refusedCalls.get('eth_sendRawTransaction') ?? 0) >= 4 ? true : undefined), 30_000, 'four refused broadcasts');

    // Another sender on the same wallet (an operator's transfer) uses the committed deposit's nonce.
    const other = await new Wallet(chain.chain.fundingPrivKey, chain.provider).sendTransaction({ to: TEST_WITHDRAWAL_ADDRESS, value: 1n, nonce: takenNonce });
    assert.is((await other.wait())!.status, 1);
    proxy.refused.delete('eth_sendRawTransaction');

    const granted = await eventually(() => claim(), 60_000, 'pod-a to get its key once the deposit went through with another nonce');
    const replaced = await coordinator.process.waitFor((r) => String(r.msg).startsWith('deposit transaction signed again'), 1_000, 'the replacement');
    assert.equal([replaced['replacedNonce'], replaced['nonce'], replaced['pubKey']], [takenNonce, takenNonce + 1, granted.keys[0]!.pubKey]);
    const events = await depositEventsByKey(chain);
    assert.equal([...events], [[granted.keys[0]!.pubKey, 1]], 'exactly one deposit reached the contract');
    const activity = await chain.activity();
    assert.equal([activity.depositCount, activity.fundingNonce], [1, takenNonce + 2], 'the other transaction and one deposit');
    const broadcastWarnings = coordinator.process.records.filter((r) => r.msg === 'deposit transaction not confirmed yet');
    assert.is(broadcastWarnings.length, 1, `one line for ${proxy.refusedCalls.get('eth_sendRawTransaction')} refused broadcasts within the minute`);
  } finally {
    client.current?.close();
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await proxy.close();
    await chain.close();
    await dir.cleanup();
  }
});

test('an empty funding wallet stops startup with the address and balance; nothing reaches the chain', async () => {
  const dir = await tempDir('deposit-empty');
  const chain = await startTestChain();
  try {
    const secrets = await writeSecrets(dir.path);
    const fundingKeyFile = join(dir.path, 'funding.key');
    const emptyKey = randomUnfundedKey();
    await writeFile(fundingKeyFile, emptyKey, { mode: 0o600 });
    const before = await chain.activity();
    const run = await runKeylease(['coordinator', '--data-dir', join(dir.path, 'data'), '--kek-file', secrets.kekFile, '--mnemonic-file', secrets.mnemonicFile, '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', ...coordinatorDepositFlags(chain, chain.chain.rpcUrl, fundingKeyFile)]);
    assert.is(run.code, 2, run.output);
    assert.match(run.output, /the funding wallet cannot pay for one deposit/);
    assert.match(run.output, new RegExp(`${new Wallet(emptyKey).address} holds 0\\.0 ETH`));
    assert.not.match(run.output, new RegExp(emptyKey.slice(2)), 'the key itself is never shown');
    assert.equal(await chain.activity(), before);
  } finally {
    await chain.close();
    await dir.cleanup();
  }
});

test.run();
