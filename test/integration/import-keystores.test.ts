import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { create as createKeystore } from '@chainsafe/bls-keystore';
import bls from '@chainsafe/bls';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fetchAssignments, startCoordinatorProcess, writeSecrets } from '../support/coordinator-fixture.js';
import { KeyleaseProcess, runKeylease } from '../support/processes.js';
import { tempDir } from '../support/temp-dir.js';

async function makeKeystores(dir: string, count: number, password: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const pubKeys: string[] = [];
  for (let i = 0; i < count; i++) {
    const secretKey = bls.SecretKey.fromKeygen();
    const pubKey = secretKey.toPublicKey().toBytes();
    const keystore = await createKeystore(password, secretKey.toBytes(), pubKey, `m/12381/3600/${i}/0/0`);
    await writeFile(join(dir, `keystore-m_12381_3600_${i}_0_0-1700000000.json`), JSON.stringify(keystore));
    pubKeys.push('0x' + Buffer.from(pubKey).toString('hex'));
  }
  await writeFile(join(dir, 'deposit_data-1700000000.json'), '[]');
  return pubKeys.sort();
}

test('keystores made elsewhere are imported whole or not at all, and then handed to pods', async () => {
  const dir = await tempDir('import');
  const processes: KeyleaseProcess[] = [];
  try {
    const secrets = await writeSecrets(dir.path);
    const dataDir = join(dir.path, 'data');
    // A pool without a mnemonic: it can only serve imported keys.
    const first = await startCoordinatorProcess({ dataDir, kekFile: secrets.kekFile });
    await first.process.kill('SIGTERM');

    const keystoresDir = join(dir.path, 'keystores');
    const pubKeys = await makeKeystores(keystoresDir, 3, 'correct horse');
    const passwordFile = join(dir.path, 'password.txt');
    const importArgs = ['import', '--data-dir', dataDir, '--kek-file', secrets.kekFile, '--keystores', keystoresDir];

    await writeFile(passwordFile, 'wrong horse\n');
    const wrong = await runKeylease([...importArgs, '--password-file', passwordFile]);
    assert.is(wrong.code, 2);
    assert.match(wrong.output, /does not decrypt/);
    assert.match(wrong.output, /nothing was imported/);
    assert.not.ok(wrong.output.includes('wrong horse'), 'the password is never echoed');

    await writeFile(passwordFile, 'correct horse\n');
    const ok = await runKeylease([...importArgs, '--password-file', passwordFile]);
    assert.is(ok.code, 0, ok.output);
    assert.match(ok.output, /imported 3 keys into pool default/);

    const again = await runKeylease([...importArgs, '--password-file', passwordFile]);
    assert.is(again.code, 2);
    assert.match(again.output, /already in a pool/);

    const coordinator = await startCoordinatorProcess({ dataDir, kekFile: secrets.kekFile });
    processes.push(coordinator.process);
    const before = await fetchAssignments(coordinator.httpBase);
    assert.equal(before.pools['default'], { unallocated: 3, allocated: 0, cooling: 0, quarantined: 0 }, 'the refused imports changed nothing');
    const agent = new KeyleaseProcess(['agent', '--coordinator', coordinator.grpcEndpoint, '--pod-name', 'pod-a', '--keys', '3', '--layout', 'plain', '--out', join(dir.path, 'pod-a'), '--health-listen', '127.0.0.1:0']);
    processes.push(agent);
    await agent.waitForMessage('keys claimed and written');
    const after = await fetchAssignments(coordinator.httpBase);
    assert.equal([...after.pods[0]!.pubKeys].sort(), pubKeys);
    await agent.kill('SIGTERM');
    await coordinator.process.kill('SIGTERM');
  } finally {
    // A failed assertion must not leave processes behind: the runner would wait for them forever.
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await dir.cleanup();
  }
});

test.run();
