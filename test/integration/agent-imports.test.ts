/**
 * The agent runs in every validator pod, so it must load only what it uses: a real agent process claims
 * a key from a real coordinator, writes it, hands it back on SIGTERM, and every module it loaded on the
 * way is recorded (see support/loaded-modules). None may be the coordinator's code or the packages only
 * the coordinator, the webhook or `dev` need.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startCoordinatorProcess, writeSecrets } from '../support/coordinator-fixture.js';
import { KeyleaseProcess } from '../support/processes.js';
import { tempDir } from '../support/temp-dir.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const REGISTER_HOOKS = pathToFileURL(fileURLToPath(new URL('../support/loaded-modules/register.ts', import.meta.url))).href;

/** What the agent must never load, and why it would cost the pod. */
const FORBIDDEN: ReadonlyArray<{ what: string; pattern: RegExp }> = [
  { what: 'the coordinator\'s code', pattern: new RegExp(`^(file://)?${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}coordinator/`) },
  { what: 'Hardhat and its EVM', pattern: /\/node_modules\/(hardhat|@nomicfoundation)\// },
  { what: 'ethers (its index loads the provider stack)', pattern: /\/node_modules\/ethers\// },
  { what: 'the Kubernetes client', pattern: /\/node_modules\/@kubernetes\/client-node\// },
  { what: 'LevelDB', pattern: /\/node_modules\/classic-level\// },
];

test('a running agent loads neither coordinator code nor Hardhat, ethers, the Kubernetes client or LevelDB', async () => {
  const dir = await tempDir('agent-imports');
  const processes: KeyleaseProcess[] = [];
  try {
    const secrets = await writeSecrets(dir.path);
    const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'data'), ...secrets });
    processes.push(coordinator.process);
    const modulesFile = join(dir.path, 'agent-modules.txt');
    const agent = new KeyleaseProcess(
      ['agent', '--coordinator', coordinator.grpcEndpoint, '--pod-name', 'imports-0', '--keys', '1', '--layout', 'lighthouse', '--out', join(dir.path, 'pod'), '--health-listen', '127.0.0.1:0'],
      // tsx first: NODE_OPTIONS' preloads run before the command line's, and the hooks are TypeScript.
      { NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --import tsx --import ${REGISTER_HOOKS}`, KEYLEASE_LOADED_MODULES_FILE: modulesFile },
    );
    processes.push(agent);
    await agent.waitForMessage('keys claimed and written', 30_000);
    await agent.kill('SIGTERM');
    assert.ok(agent.records.some((r) => r.msg === 'lease released'), 'the agent handed its key back before it exited');

    const loaded = (await readFile(modulesFile, 'utf8')).split('\n').filter(Boolean);
    // The record is complete enough to mean something: the agent's own modules and its gRPC client are in it.
    assert.ok(loaded.some((m) => m.includes('/agent/lease-loop.ts')), 'the lease loop was recorded');
    assert.ok(loaded.some((m) => m.includes('/node_modules/@grpc/grpc-js/')), 'the gRPC client was recorded');
    for (const { what, pattern } of FORBIDDEN) {
      const offenders = loaded.filter((m) => pattern.test(m));
      assert.equal(offenders.slice(0, 5), [], `the agent loaded ${what}`);
    }
  } finally {
    await Promise.all(processes.map((p) => p.kill('SIGTERM')));
    await dir.cleanup();
  }
});

test.run();
