/**
 * What the image runs: the CLI compiled by `npm run build` (scripts/build.ts), started through
 * bin/keylease.js with plain node and no TypeScript loader. A coordinator derives a key (in its worker
 * thread, compiled too) and an agent claims, writes and releases it, over the .proto contract the build
 * copies beside the compiled code. Any TypeScript file loaded on the way would fail the process.
 */
import { spawn } from 'node:child_process';
import { cp, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeSecrets } from '../support/coordinator-fixture.js';
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

test('the compiled CLI, without tsx: coordinator derives a key, agent claims, writes and releases it', async () => {
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

    const help = await runKeylease(['agent', '--help'], {}, entry);
    assert.is(help.code, 0, help.output);
    assert.match(help.output, /Usage: keylease agent/);

    const secrets = await writeSecrets(dir.path);
    const coordinator = new KeyleaseProcess(
      ['coordinator', '--data-dir', join(dir.path, 'data'), '--kek-file', secrets.kekFile, '--mnemonic-file', secrets.mnemonicFile, '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0'],
      {},
      entry,
    );
    processes.push(coordinator);
    const ready = await coordinator.waitForMessage('coordinator ready', 30_000);
    const agent = new KeyleaseProcess(
      ['agent', '--coordinator', String(ready['grpc']), '--pod-name', 'compiled-0', '--keys', '1', '--layout', 'plain', '--out', join(dir.path, 'pod'), '--health-listen', '127.0.0.1:0'],
      {},
      entry,
    );
    processes.push(agent);
    const claimed = await agent.waitForMessage('keys claimed and written', 60_000);
    assert.is(claimed['keys'], 1);
    const exit = await agent.kill('SIGTERM');
    assert.is(exit.code, 0, agent.lines.slice(-10).join('\n'));
    assert.ok(agent.records.some((r) => r.msg === 'lease released'), 'the agent released its key');
  } finally {
    await Promise.all(processes.map((p) => p.kill('SIGTERM')));
    await dir.cleanup();
  }
});

test.run();
