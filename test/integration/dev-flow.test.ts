import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decryptKeystore, parseKeystore } from '../../shared/eth/keystore.js';
import { READY_MARKER } from '../../shared/eth/layouts/engine.js';
import { readKek } from '../../coordinator/keys/kek.js';
import { openPoolKey } from '../../coordinator/keys/pool-key.js';
import { replicaDirectory } from '../../coordinator/config.js';
import { SingleReplicaLog } from '../../coordinator/replication/single-replica-log.js';
import { silentLogger } from '../../shared/log/logger.js';
import { writeFile } from 'node:fs/promises';
import { fetchAssignments } from '../support/coordinator-fixture.js';
import { depositEventsByKey, startTestChain, TEST_WITHDRAWAL_ADDRESS } from '../support/evm.js';
import { KeyleaseProcess, runKeylease } from '../support/processes.js';
import { tempDir } from '../support/temp-dir.js';

test('keylease dev: three stand-in pods get keys, Ctrl-C releases them, and no secret reaches any output', async () => {
  const dir = await tempDir('dev');
  const dataDir = join(dir.path, 'dev-data');
  const dev = new KeyleaseProcess(['dev', '--data-dir', dataDir, '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--log-level', 'debug']);
  try {
    await dev.waitForLine(/validator-2: 2 keys written/, 60_000);
    await dev.waitForLine(/validator-1: 2 keys written/, 60_000);
    await dev.waitForLine(/validator-0: 2 keys written/, 60_000);
    const stdout = dev.lines.join('\n');
    assert.match(stdout, /A NEW THROWAWAY MNEMONIC WAS GENERATED/);
    assert.match(stdout, /6 deposits confirmed on chain|deposits confirmed on chain/, 'the demo deposits for its new keys');
    assert.match(stdout, /local chain \(deposits\)\s+http:\/\/127\.0\.0\.1:\d+/);
    assert.match(stdout, /coordinator gRPC endpoint\s+127\.0\.0\.1:\d+/);
    const assignmentsUrl = /assignments\s+(http:\/\/127\.0\.0\.1:\d+\/assignments)/.exec(stdout)![1]!;
    for (const pod of ['validator-0', 'validator-1', 'validator-2']) assert.ok(stdout.includes(join(dataDir, 'pods', pod)), `folder of ${pod} printed`);

    const assignments = await fetchAssignments(assignmentsUrl.replace(/\/assignments$/, ''));
    assert.equal(assignments.pods.map((p) => p.pubKeys.length), [2, 2, 2]);
    for (const pod of ['validator-0', 'validator-1', 'validator-2']) assert.ok(existsSync(join(dataDir, 'pods', pod, READY_MARKER)));

    dev.child.kill('SIGINT');
    const exit = await dev.exited;
    assert.is(exit.code, 0, dev.lines.slice(-20).join('\n'));
    assert.match(dev.lines.join('\n'), /stopped cleanly/);
    for (const pod of ['validator-0', 'validator-1', 'validator-2']) assert.not.ok(existsSync(join(dataDir, 'pods', pod, READY_MARKER)), `${pod} removed its keys`);

    // Every lease was released and committed before the coordinator stopped.
    const log = await SingleReplicaLog.open({ directory: replicaDirectory(join(dataDir, 'coordinator')), logger: silentLogger });
    const keys = await log.read((s) => ({ leases: s.leases.size, sealed: [...s.keys.values()].map((k) => ({ pubKey: k.pubKey, path: k.path, sealedSecret: k.sealedSecret })) }));
    await log.close();
    assert.is(keys.leases, 0);
    assert.is(keys.sealed.length, 6);

    // Gather every secret this run used and look for each in everything it printed.
    const kek = await readKek(join(dataDir, 'kek.bin'));
    const mnemonic = (await readFile(join(dataDir, 'demo-mnemonic.txt'), 'utf8')).trim();
    const words = mnemonic.split(/\s+/);
    const chainKeys = JSON.parse(await readFile(join(dataDir, 'demo-chain-keys.json'), 'utf8')) as { funding: string; deployer: string };
    const secrets: Array<[string, string]> = [
      ['funding key', chainKeys.funding.slice(2)],
      ['deployer key', chainKeys.deployer.slice(2)],
      ['kek hex', kek.toString('hex')],
      ['kek base64', kek.toString('base64')],
      ['mnemonic', mnemonic],
      ...words.slice(0, -3).map((_, i) => ['mnemonic words', words.slice(i, i + 4).join(' ')] as [string, string]),
    ];
    for (const sealed of keys.sealed) {
      const opened = openPoolKey(kek, sealed);
      const privKey = await decryptKeystore(parseKeystore(opened.keystoreJson), opened.keystorePassword);
      secrets.push(['keystore password', opened.keystorePassword], ['private key', Buffer.from(privKey).toString('hex')]);
    }
    const everything = dev.lines.join('\n');
    for (const [kind, secret] of secrets) assert.not.ok(everything.includes(secret), `a ${kind} appeared in the output`);
    // The scan covered debug-level output of the coordinator and of every agent, not just the banner.
    assert.ok(dev.records.some((r) => r.level === 'debug'), 'debug records were scanned');
    assert.ok(dev.records.some((r) => r['component'] === 'allocation'), 'coordinator records were scanned');
    for (const pod of ['validator-0', 'validator-1', 'validator-2']) assert.ok(dev.records.some((r) => r['podName'] === pod && r['component'] === 'agent'), `${pod}'s agent records were scanned`);
  } finally {
    await dev.kill('SIGKILL');
    await dir.cleanup();
  }
});

test('keylease dev --rpc-url deposits on an external chain given with its network; mainnet and a chain without its network are refused', async () => {
  const dir = await tempDir('dev-external');
  const chain = await startTestChain();
  const dataDir = join(dir.path, 'dev-data');
  const fundingKeyFile = join(dir.path, 'funding.key');
  await writeFile(fundingKeyFile, chain.chain.fundingPrivKey, { mode: 0o600 });
  const { network } = chain.chain;
  const external = ['--rpc-url', chain.chain.rpcUrl, '--funding-key-file', fundingKeyFile, '--withdrawal-address', TEST_WITHDRAWAL_ADDRESS];
  const customNetwork = ['--chain-id', String(network.chainId), '--genesis-fork-version', network.genesisForkVersion, '--genesis-validators-root', network.genesisValidatorsRoot, '--deposit-contract-address', network.depositContractAddress];
  const dev = new KeyleaseProcess(['dev', '--data-dir', dataDir, '--agents', '1', '--keys-per-agent', '1', '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', ...external, ...customNetwork]);
  try {
    await dev.waitForLine(/validator-0: 1 keys written/, 60_000);
    const stdout = dev.lines.join('\n');
    assert.match(stdout, new RegExp(`external chain \\(deposits\\)\\s+${chain.chain.rpcUrl.replace(/[.]/g, '\\.')}\\s+contract ${network.depositContractAddress}`));
    const assignmentsUrl = /assignments\s+(http:\/\/127\.0\.0\.1:\d+\/assignments)/.exec(stdout)![1]!;
    const assignments = await fetchAssignments(assignmentsUrl.replace(/\/assignments$/, ''));
    assert.equal([...(await depositEventsByKey(chain))], [[assignments.pods[0]!.pubKeys[0]!, 1]], 'the key was deposited once, on the external chain');
    assert.not.ok(existsSync(join(dataDir, 'demo-chain-keys.json')), 'no local chain was made');
    dev.child.kill('SIGINT');
    assert.is((await dev.exited).code, 0, dev.lines.slice(-20).join('\n'));

    const refused = async (args: string[], pattern: RegExp) => {
      const run = await runKeylease(['dev', '--data-dir', join(dir.path, 'refused'), '--agents', '0', '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', ...args]);
      assert.is(run.code, 2, run.output);
      assert.match(run.output, pattern);
    };
    await refused(external, /with --rpc-url, say which chain it is: --network hoodi\|sepolia\|holesky, or a custom network/);
    await refused([...external, '--network', 'mainnet'], /keylease dev never deposits on mainnet/);
    await refused(['--funding-key-file', fundingKeyFile], /--funding-key-file describes an external chain: give it with --rpc-url/);
    assert.not.ok(existsSync(join(dir.path, 'refused')), 'a refused start writes nothing');
  } finally {
    await dev.kill('SIGKILL');
    await chain.close();
    await dir.cleanup();
  }
});

test.run();
