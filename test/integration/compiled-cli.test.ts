/**
 * What the image runs: the CLI compiled by `npm run build` (scripts/build.ts), started through
 * bin/keylease.js with plain node and no TypeScript loader. A coordinator derives keys (in its worker
 * thread, compiled too); agents (one bundle), with the Node options the webhook gives them, claim, write
 * and release a key (files) and sign with one (signer). Any TypeScript file loaded on the way, or any
 * WebAssembly (--jitless has none), would fail the process.
 */
import { spawn } from 'node:child_process';
import { cp, readdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AGENT_NODE_OPTIONS } from '../../coordinator/k8s/webhook/agent-sidecar.js';
import { writeSecrets } from '../support/coordinator-fixture.js';
import { freePorts } from '../support/ports.js';
import { attestationRequest, TEST_CHAIN } from '../support/signer-requests.js';
import { KeyleaseProcess, runKeylease } from '../support/processes.js';
import { tempDir } from '../support/temp-dir.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function build(outDir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts/build.ts'), outDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let errors = '';
    child.stderr.on('data', (d) => (errors += d));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the build failed (${code}):\n${errors}`))));
  });
}

test('the compiled CLI, without tsx: coordinator derives keys; agents with the injected Node options claim, write, sign and release', async () => {
  const dir = await tempDir('compiled-cli');
  const processes: KeyleaseProcess[] = [];
  try {
    // The image's /app: package.json (an ES module package), bin/, dist/ and the dependencies.
    const app = join(dir.path, 'app');
    await build(join(app, 'dist'));
    await cp(join(root, 'package.json'), join(app, 'package.json'));
    await cp(join(root, 'bin'), join(app, 'bin'), { recursive: true });
    await symlink(join(root, 'node_modules'), join(app, 'node_modules'));
    const entry = [join(app, 'bin/keylease.js')];

    // The agent is one bundle (and its chunks): esbuild marks where each module's code begins, and the
    // packages left outside it (native addons) are imported by name.
    const bundled = new Set<string>();
    const imported = new Set<string>();
    const agentDir = join(app, 'dist/agent');
    for (const file of await readdir(agentDir, { recursive: true })) {
      if (!file.endsWith('.js')) continue;
      const code = await readFile(join(agentDir, file), 'utf8');
      for (const [, from] of code.matchAll(/^\/\/ ((?:node_modules\/(?:@[^/]+\/)?[^/]+)|[a-z-]+)\//gm)) bundled.add(from!);
      for (const [, name] of code.matchAll(/(?:from |import\(|require\()"((?:@[^/"]+\/)?[^/".][^/"]*)/g)) imported.add(`node_modules/${name!}`);
    }
    assert.ok(bundled.has('node_modules/@grpc/grpc-js') && bundled.has('agent'), `the bundle holds the agent and grpc-js (${[...bundled].join(', ')})`);
    assert.ok(imported.has('node_modules/@chainsafe/blst'), `the bundle imports the blst addon by name (${[...imported].join(', ')})`);
    const unwantedPackages = ['hardhat', 'ethers', '@kubernetes/client-node', 'classic-level', 'protobufjs', '@grpc/proto-loader', 'prom-client', 'yaml',
      // The signer hashes with its own SSZ over node:crypto (agent/signer/ssz), not @chainsafe/ssz and its hashers.
      '@chainsafe/ssz', '@chainsafe/persistent-merkle-tree', '@chainsafe/as-sha256', '@chainsafe/hashtree'];
    for (const unwanted of ['coordinator', 'cli', ...unwantedPackages.map((name) => `node_modules/${name}`)]) {
      assert.not.ok(bundled.has(unwanted), `the agent bundle leaves out ${unwanted}`);
    }
    // grpc-js names proto-loader, left outside for the channelz and ORCA services it never starts (scripts/build.ts).
    for (const unwanted of unwantedPackages.filter((name) => name !== '@grpc/proto-loader')) {
      assert.not.ok(imported.has(`node_modules/${unwanted}`), `the agent bundle does not import ${unwanted}`);
    }

    const help = await runKeylease(['agent', '--help'], {}, entry);
    assert.is(help.code, 0, help.output);
    assert.match(help.output, /Usage: keylease agent/);

    const secrets = await writeSecrets(dir.path);
    const coordinator = new KeyleaseProcess(
      ['coordinator', '--data-dir', join(dir.path, 'data'), '--kek-file', secrets.kekFile, '--mnemonic-file', secrets.mnemonicFile, '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', ...signerChainFlags()],
      {},
      entry,
    );
    processes.push(coordinator);
    const ready = await coordinator.waitForMessage('coordinator ready', 30_000);
    // Agents run with the Node options the webhook injects (--jitless among them: no WebAssembly).
    const asInjected = { NODE_OPTIONS: AGENT_NODE_OPTIONS };
    const agent = new KeyleaseProcess(
      ['agent', '--coordinator', String(ready['grpc']), '--pod-name', 'compiled-0', '--keys', '1', '--layout', 'plain', '--out', join(dir.path, 'pod'), '--health-listen', '127.0.0.1:0'],
      asInjected,
      entry,
    );
    processes.push(agent);
    const claimed = await agent.waitForMessage('keys claimed and written', 60_000);
    assert.is(claimed['keys'], 1);
    const exit = await agent.kill('SIGTERM');
    assert.is(exit.code, 0, agent.lines.slice(-10).join('\n'));
    assert.ok(agent.records.some((r) => r.msg === 'lease released'), 'the agent released its key');

    const [signerPort] = await freePorts(1);
    const signer = new KeyleaseProcess(
      ['agent', '--coordinator', String(ready['grpc']), '--pod-name', 'compiled-1', '--keys', '1', '--signer-listen', `127.0.0.1:${signerPort}`,
        '--signer-state-dir', join(dir.path, 'signer-state'), '--signer-preset', TEST_CHAIN.preset, '--health-listen', '127.0.0.1:0'],
      asInjected,
      entry,
    );
    processes.push(signer);
    await signer.waitForMessage('keys claimed and written', 60_000);
    const signerBase = `http://127.0.0.1:${signerPort}/api/v1/eth2`;
    const [pubKey] = (await (await fetch(`${signerBase}/publicKeys`)).json()) as string[];
    const signed = await fetch(`${signerBase}/sign/${pubKey}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(attestationRequest(3, 5)) });
    const answer = await signed.text();
    assert.is(signed.status, 200, answer);
    assert.match(answer, /"signature":"0x[0-9a-f]{192}"/);
    assert.is((await signer.kill('SIGTERM')).code, 0, signer.lines.slice(-10).join('\n'));
  } finally {
    await Promise.all(processes.map((p) => p.kill('SIGTERM')));
    await dir.cleanup();
  }
});

/** The signer tests' chain (minimal preset, genesis 200 s ago: epoch about 12), so an attestation of epoch 5 is signable. */
function signerChainFlags(): string[] {
  return [
    '--genesis-validators-root', TEST_CHAIN.genesisValidatorsRoot,
    '--genesis-fork-version', TEST_CHAIN.genesisForkVersion,
    '--deposit-contract-address', '0x4242424242424242424242424242424242424242',
    '--genesis-time', String(Math.floor(Date.now() / 1000) - 200),
    '--seconds-per-slot', '2',
    '--slots-per-epoch', '8',
  ];
}

test.run();
