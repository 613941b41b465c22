import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ClassicLevel } from 'classic-level';
import { stateHash, type Command } from '../../coordinator/core/index.js';
import { SingleReplicaLog } from '../../coordinator/replication/single-replica-log.js';
import { StorageError } from '../../coordinator/replication/errors.js';
import { silentLogger } from '../../shared/log/logger.js';
import { tempDir } from '../support/temp-dir.js';

const settings = { derive: false, maxKeys: 100, maxKeysPerClaim: 4, coolingMs: 0, leaseTtlMs: 5000, genesisValidatorsRoot: '0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95', historyRetentionMs: 60_000, depositMode: 'none' as const };
const pubKey = (n: number) => '0x' + n.toString(16).padStart(96, '0');

function importCommand(from: number, count: number): Command {
  return { type: 'ImportKeys', nowMs: 1000 + from, pool: 'p', keys: Array.from({ length: count }, (_, i) => ({ pubKey: pubKey(from + i), path: '', sealedSecret: 'x' })) };
}

test('a reopened log replays to the same state, through snapshots and the tail', async () => {
  const dir = await tempDir('log');
  try {
    let log = await SingleReplicaLog.open({ directory: dir.path, logger: silentLogger, snapshotEvery: 7 });
    assert.ok((await log.propose({ type: 'ConfigurePool', nowMs: 1, pool: 'p', settings })).ok);
    // Concurrent proposals are grouped into shared writes and still applied in order.
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => log.propose(importCommand(i * 2, 2))));
    assert.ok(results.every((r) => r.ok));
    const claim = await log.propose({ type: 'Claim', nowMs: 5000, podName: 'pod-a', pool: 'p', count: 3, derivedKeys: [] });
    assert.ok(claim.ok);
    const before = await log.read(stateHash);
    await log.close();

    log = await SingleReplicaLog.open({ directory: dir.path, logger: silentLogger, snapshotEvery: 7 });
    assert.is(await log.read(stateHash), before);
    assert.is(await log.read((s) => s.leases.get('pod-a')?.pubKeys.length), 3);
    await log.close();
  } finally {
    await dir.cleanup();
  }
});

test('a damaged record stops the start with a clear error instead of being applied', async () => {
  const dir = await tempDir('log-corrupt');
  try {
    const log = await SingleReplicaLog.open({ directory: dir.path, logger: silentLogger });
    await log.propose({ type: 'ConfigurePool', nowMs: 1, pool: 'p', settings });
    await log.propose(importCommand(0, 1));
    await log.close();
    const db = new ClassicLevel<string, string>(dir.path, { valueEncoding: 'utf8' });
    const key = 'entry:' + '2'.padStart(16, '0');
    const stored = JSON.parse((await db.get(key))!);
    stored.body = stored.body.replace('"p"', '"q"');
    await db.put(key, JSON.stringify(stored));
    await db.close();
    try {
      await SingleReplicaLog.open({ directory: dir.path, logger: silentLogger });
      assert.unreachable('opened a damaged log');
    } catch (error) {
      assert.instance(error, StorageError);
      assert.is((error as StorageError).code, 'STORAGE_CORRUPT');
      assert.match((error as Error).message, /damaged/);
    }
  } finally {
    await dir.cleanup();
  }
});

test('a data directory of another storage format is refused, not rewritten', async () => {
  const dir = await tempDir('log-version');
  try {
    const db = new ClassicLevel<string, string>(dir.path, { valueEncoding: 'utf8' });
    const body = JSON.stringify({ format: 'keylease-single-replica-v0' });
    const { createHash } = await import('node:crypto');
    await db.put('meta', JSON.stringify({ sum: createHash('sha256').update(body).digest('hex').slice(0, 32), body }));
    await db.close();
    try {
      await SingleReplicaLog.open({ directory: dir.path, logger: silentLogger });
      assert.unreachable('opened an incompatible directory');
    } catch (error) {
      assert.is((error as StorageError).code, 'STORAGE_VERSION');
      assert.match((error as Error).message, /new --data-dir/);
    }
  } finally {
    await dir.cleanup();
  }
});

test.run();
