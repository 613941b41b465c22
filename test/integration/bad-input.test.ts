import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fetchAssignments, startCoordinatorProcess, writeSecrets } from '../support/coordinator-fixture.js';
import { freePorts } from '../support/ports.js';
import { KeyleaseProcess, runKeylease } from '../support/processes.js';
import { tempDir } from '../support/temp-dir.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let secrets: Awaited<ReturnType<typeof writeSecrets>>;

test.before(async () => {
  dir = await tempDir('bad-input');
  secrets = await writeSecrets(dir.path);
});
test.after(() => dir.cleanup());

async function expectRefusal(args: string[], pattern: RegExp, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { code, output } = await runKeylease(args, env);
  assert.is(code, 2, `exit code 2 for ${args.join(' ')}; output: ${output}`);
  assert.match(output, pattern);
  return output;
}

test('coordinator: a missing, unreadable or wrong-sized KEK is refused with the fix, creating nothing', async () => {
  const dataDir = join(dir.path, 'never-created');
  await expectRefusal(['coordinator', '--data-dir', dataDir], /--kek-file is required \(or set KEYLEASE_KEK_FILE\)/);
  await expectRefusal(['coordinator', '--data-dir', dataDir, '--kek-file', join(dir.path, 'nope')], /nope/);
  const shortKek = join(dir.path, 'short-kek');
  await writeFile(shortKek, Buffer.alloc(16, 7));
  await expectRefusal(['coordinator', '--data-dir', dataDir, '--kek-file', shortKek], /head -c 32 \/dev\/urandom/);
  assert.not.ok(existsSync(dataDir), 'no data directory was created');
});

test('coordinator: a missing or invalid mnemonic is refused without echoing it', async () => {
  const dataDir = join(dir.path, 'never-created-2');
  await expectRefusal(['coordinator', '--data-dir', dataDir, '--kek-file', secrets.kekFile, '--mnemonic-file', join(dir.path, 'no-mnemonic')], /no-mnemonic/);
  const badMnemonic = join(dir.path, 'bad-mnemonic');
  await writeFile(badMnemonic, 'abandon zebra abandon abandon abandon abandon abandon abandon abandon abandon abandon about\n');
  const output = await expectRefusal(['coordinator', '--data-dir', dataDir, '--kek-file', secrets.kekFile, '--mnemonic-file', badMnemonic], /mnemonic/i);
  assert.not.ok(output.includes('zebra'), 'the mnemonic is never echoed');
  assert.not.ok(existsSync(dataDir));
});

test('coordinator: another KEK or another mnemonic on existing data is refused, and the data is untouched', async () => {
  const dataDir = join(dir.path, 'data');
  const first = await startCoordinatorProcess({ dataDir, ...secrets });
  const agent = new KeyleaseProcess(['agent', '--coordinator', first.grpcEndpoint, '--pod-name', 'pod-a', '--keys', '1', '--layout', 'plain', '--out', join(dir.path, 'pod-a'), '--health-listen', '127.0.0.1:0']);
  await agent.waitForMessage('keys claimed and written');
  await agent.kill('SIGKILL');
  const before = await fetchAssignments(first.httpBase);
  await first.process.kill('SIGTERM');

  const otherKek = join(dir.path, 'other-kek');
  await writeFile(otherKek, Buffer.alloc(32, 9).toString('hex'));
  await expectRefusal(['coordinator', '--data-dir', dataDir, '--kek-file', otherKek, '--mnemonic-file', secrets.mnemonicFile, '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0'], /key-encryption key/);
  const otherMnemonic = join(dir.path, 'other-mnemonic');
  // A valid BIP39 mnemonic (a published test vector), just not this pool's.
  await writeFile(otherMnemonic, 'legal winner thank year wave sausage worth useful legal winner thank yellow\n');
  await expectRefusal(['coordinator', '--data-dir', dataDir, '--kek-file', secrets.kekFile, '--mnemonic-file', otherMnemonic, '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0'], /not the one pool default was derived from/);

  const again = await startCoordinatorProcess({ dataDir, ...secrets });
  const after = await fetchAssignments(again.httpBase);
  assert.equal(after.pods.map((p) => [p.podName, p.pubKeys]), before.pods.map((p) => [p.podName, p.pubKeys]));
  await again.process.kill('SIGTERM');
});

test('agent: an unknown layout, a bad pod name or a count out of range is refused before anything starts', async () => {
  const common = ['agent', '--coordinator', '127.0.0.1:1', '--out', join(dir.path, 'agent-out')];
  await expectRefusal([...common, '--pod-name', 'pod-a', '--layout', 'prysmm'], /use one of lighthouse, teku, nimbus, lodestar, prysm, web3signer, plain/);
  await expectRefusal([...common, '--pod-name', 'Pod_A', '--layout', 'plain'], /DNS-1123/);
  await expectRefusal([...common, '--pod-name', 'pod-a', '--layout', 'plain', '--keys', '0'], /--keys is 0/);
  await expectRefusal([...common, '--pod-name', 'pod-a', '--layout', 'plain'], /KEYLEASE_KEYS is -3/, { KEYLEASE_KEYS: '-3' });
  assert.not.ok(existsSync(join(dir.path, 'agent-out')));
});

test('coordinator: a custom network must give its fork version, genesis validators root and deposit contract; nothing comes from mainnet', async () => {
  const dataDir = join(dir.path, 'never-created-network');
  const base = ['coordinator', '--data-dir', dataDir, '--kek-file', secrets.kekFile, '--mnemonic-file', secrets.mnemonicFile];
  const root = '0x' + '5a'.repeat(32);
  const contract = '0x00000000219ab540356cBB839Cbe05303d7705Fa';
  await expectRefusal([...base, '--genesis-validators-root', root, '--deposit-contract-address', contract], /a custom network needs .*; missing: --genesis-fork-version\. Nothing is assumed from mainnet/);
  await expectRefusal([...base, '--genesis-fork-version', '0x10000910', '--chain-id', '7'], /missing: --genesis-validators-root, --deposit-contract-address/);
  await expectRefusal([...base, '--network', 'hoodi', '--genesis-fork-version', '0x10000910'], /--network hoodi is a known network, but --genesis-fork-version describes a custom one/);
  const custom = ['--genesis-fork-version', '0x10000910', '--genesis-validators-root', root, '--deposit-contract-address', contract];
  await expectRefusal([...base, ...custom, '--eth-rpc-url', 'http://127.0.0.1:1'], /--eth-rpc-url on a custom network needs --chain-id/);
  await expectRefusal([...base, '--network', 'hoodi', '--deposit-mode', 'export', '--withdrawal-address', '0x' + '0'.repeat(40)], /--withdrawal-address: withdrawal address is the zero address/);
  assert.not.ok(existsSync(dataDir), 'no data directory was created');
});

/** Holds a loopback port, as another process would. */
async function takePort(): Promise<{ port: number; release(): Promise<void> }> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, release: () => new Promise((resolve) => server.close(() => resolve())) };
}

test('a taken port is reported with the flag that moves it, for every listener of every command', async () => {
  const taken = await takePort();
  try {
    const at = `127.0.0.1:${taken.port}`;
    const inUse = (flag: string) => new RegExp(`cannot listen on 127\\.0\\.0\\.1:${taken.port} \\(--${flag}\\): another process already listens on it \\(EADDRINUSE\\)\\. Stop what uses it, or move this listener with --${flag} HOST:PORT`);
    const coordinator = (dataDir: string) => ['coordinator', '--data-dir', join(dir.path, dataDir), '--kek-file', secrets.kekFile];
    for (const output of [
      await expectRefusal([...coordinator('port-grpc'), '--grpc-listen', at, '--http-listen', '127.0.0.1:0'], inUse('grpc-listen')),
      await expectRefusal([...coordinator('port-http'), '--grpc-listen', '127.0.0.1:0', '--http-listen', at], inUse('http-listen')),
    ]) {
      assert.not.match(output, /No address added/, 'gRPC\'s own words are translated');
    }
    const [grpcPort, peerPort] = await freePorts(2);
    await expectRefusal([...coordinator('port-raft'), '--grpc-listen', `127.0.0.1:${grpcPort}`, '--http-listen', '127.0.0.1:0', '--raft-listen', at, '--peers', `r2=127.0.0.1:${peerPort}`], inUse('raft-listen'));
    await expectRefusal(['agent', '--coordinator', '127.0.0.1:1', '--pod-name', 'pod-a', '--layout', 'plain', '--out', join(dir.path, 'port-agent'), '--health-listen', at], inUse('health-listen'));
    await expectRefusal(['dev', '--data-dir', join(dir.path, 'port-dev'), '--agents', '0', '--grpc-listen', at, '--http-listen', '127.0.0.1:0'], inUse('grpc-listen'));
  } finally {
    await taken.release();
  }
});

test('unknown commands and flags say what to do', async () => {
  const { code, output } = await runKeylease(['coordinatr']);
  assert.is(code, 2);
  assert.match(output, /unknown command "coordinatr"; commands are coordinator, agent, dev/);
  await expectRefusal(['dev', '--agentz', '2'], /unknown flag --agentz/);
});

test.run();
