/**
 * Hardhat (the local chain of `keylease dev`) is a development dependency: where it is left out (the
 * image, `npm ci --omit=dev`), `keylease dev` says what is missing and what to do, and writes nothing.
 * The installation without Hardhat is made by a resolve hook that answers as Node does for a missing package.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runKeylease } from '../support/processes.js';
import { tempDir } from '../support/temp-dir.js';

const HIDE_PACKAGES = pathToFileURL(fileURLToPath(new URL('../support/hidden-packages/register.ts', import.meta.url))).href;

test('keylease dev without Hardhat installed: exit 2, a message naming Hardhat and npm install, no data written', async () => {
  const dir = await tempDir('dev-no-hardhat');
  try {
    const dataDir = join(dir.path, 'dev-data');
    const { code, output } = await runKeylease(['dev', '--data-dir', dataDir, '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0'], {
      // tsx first: NODE_OPTIONS' preloads run before the command line's, and the hook is TypeScript.
      NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --import tsx --import ${HIDE_PACKAGES}`,
      KEYLEASE_HIDDEN_PACKAGES: 'hardhat',
    });
    assert.is(code, 2, output);
    assert.match(output, /^keylease dev: the local Ethereum chain runs on Hardhat, a development dependency .*npm install/m);
    assert.not.match(output, /at .*\.ts:\d+/, 'no stack trace');
    assert.not.ok(existsSync(dataDir), 'nothing was written');
  } finally {
    await dir.cleanup();
  }
});

test.run();
