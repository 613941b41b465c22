import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { watchFileSet, type FileContents } from '../../shared/files/watch-file-set.js';
import { createLogger } from '../../shared/log/logger.js';
import { tempDir } from '../support/temp-dir.js';
import { SecretVolume } from '../k8s/support/secret-volume.js';

const logger = createLogger({ level: 'error', component: 'test', sink: () => {} });

function nextChange(changes: FileContents[], count: number, timeoutMs = 5000): Promise<FileContents> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (changes.length >= count) resolve(changes[count - 1]!);
      else if (Date.now() > deadline) reject(new Error(`no change #${count} within ${timeoutMs} ms`));
      else setTimeout(poll, 20);
    };
    poll();
  });
}

test('a Secret swapped the Kubernetes way is reported once, with both files of the pair', async () => {
  const dir = await tempDir('reload');
  const volume = new SecretVolume(dir.path);
  volume.publish({ 'tls.crt': 'cert-1', 'tls.key': 'key-1' });
  const certFile = join(dir.path, 'tls.crt');
  const keyFile = join(dir.path, 'tls.key');
  const changes: FileContents[] = [];
  const watch = await watchFileSet([certFile, keyFile], (c) => void changes.push(c), { logger, debounceMs: 50 });
  try {
    assert.is(watch.initial.get(certFile)!.toString(), 'cert-1');
    assert.is(watch.initial.get(keyFile)!.toString(), 'key-1');
    volume.publish({ 'tls.crt': 'cert-2', 'tls.key': 'key-2' });
    const change = await nextChange(changes, 1);
    assert.is(change.get(certFile)!.toString(), 'cert-2');
    assert.is(change.get(keyFile)!.toString(), 'key-2');
    await new Promise((r) => setTimeout(r, 300));
    assert.is(changes.length, 1, 'one swap, one callback (events are debounced)');
  } finally {
    watch.close();
    await dir.cleanup();
  }
});

test('a plain rewrite is seen; a rewrite with the same content is not reported', async () => {
  const dir = await tempDir('reload');
  const tokenFile = join(dir.path, 'api-token');
  writeFileSync(tokenFile, 'token-1');
  const changes: FileContents[] = [];
  const watch = await watchFileSet([tokenFile], (c) => void changes.push(c), { logger, debounceMs: 50 });
  try {
    writeFileSync(tokenFile, 'token-1');
    await new Promise((r) => setTimeout(r, 300));
    assert.is(changes.length, 0);
    writeFileSync(tokenFile, 'token-2');
    assert.is((await nextChange(changes, 1)).get(tokenFile)!.toString(), 'token-2');
  } finally {
    watch.close();
    await dir.cleanup();
  }
});

test('a failing callback keeps the watch going; close stops it', async () => {
  const dir = await tempDir('reload');
  const file = join(dir.path, 'policy.yaml');
  writeFileSync(file, 'a');
  const seen: string[] = [];
  const watch = await watchFileSet([file], (c) => {
    seen.push(c.get(file)!.toString());
    if (seen.length === 1) throw new Error('bad policy');
  }, { logger, debounceMs: 50 });
  try {
    writeFileSync(file, 'b');
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(file, 'c');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen, ['b', 'c']);
    watch.close();
    writeFileSync(file, 'd');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen, ['b', 'c']);
  } finally {
    watch.close();
    await dir.cleanup();
  }
});

test('a missing file is a configuration error naming it', async () => {
  const dir = await tempDir('reload');
  try {
    await watchFileSet([join(dir.path, 'absent.pem')], () => {}, { logger }).then(
      () => assert.unreachable('must fail'),
      (error: Error) => {
        assert.is(error.name, 'ConfigError');
        assert.match(error.message, /cannot read .*absent\.pem/);
      },
    );
  } finally {
    await dir.cleanup();
  }
});

test.run();
