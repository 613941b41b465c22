/**
 * The moment after a new cluster's first election: the leader leads before the entry creating its pool
 * (ConfigurePool, which it proposes once it leads) is applied. A claim on that pool then must be told to
 * retry, not refused: agents stop on a refusal (seen in CI as "unknown pool "default": known pools are none").
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AllocationService } from '../../coordinator/allocation/allocation-service.js';
import { PoolNotReadyError } from '../../coordinator/allocation/errors.js';
import { PoolSecrets } from '../../coordinator/keys/pool-secrets.js';
import { LeaseKeeper } from '../../coordinator/leases/lease-keeper.js';
import { SingleReplicaLog } from '../../coordinator/replication/single-replica-log.js';
import { systemClock } from '../../shared/clock/clock.js';
import { silentLogger } from '../../shared/log/logger.js';
import { tempDir } from '../support/temp-dir.js';

const settings = { derive: false, maxKeys: 100, maxKeysPerClaim: 4, coolingMs: 0, leaseTtlMs: 5000, genesisValidatorsRoot: '0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95', historyRetentionMs: 60_000, depositMode: 'none' as const };
const pod = { podName: 'validator-0', podUid: null };

test("a claim on the coordinator's own pool before the pool exists is 'retry shortly'; on any other unknown pool it is refused; once the pool exists it is planned as ever", async () => {
  const dir = await tempDir('pool-not-ready');
  const log = await SingleReplicaLog.open({ directory: dir.path, logger: silentLogger });
  const secrets = new PoolSecrets(Buffer.alloc(32, 7), new Map());
  const leases = new LeaseKeeper(log, systemClock, silentLogger);
  await leases.start();
  const allocation = new AllocationService(log, secrets, leases, systemClock, silentLogger, {}, null, undefined, null, undefined, 'default');
  try {
    const early = await allocation.claim(pod, 'default', 1, 'signer').then(
      () => null,
      (error: unknown) => error,
    );
    assert.instance(early, PoolNotReadyError, 'the configured pool, not created yet: retry');
    assert.is((early as PoolNotReadyError).code, 'POOL_NOT_READY');

    const other = await allocation.claim(pod, 'elsewhere', 1, 'signer');
    assert.is(other.ok ? null : other.refusal.code, 'UNKNOWN_POOL', 'a pool this coordinator does not configure is refused, naming it');

    assert.ok((await log.propose({ type: 'ConfigurePool', nowMs: 1, pool: 'default', settings })).ok);
    const planned = await allocation.claim(pod, 'default', 1, 'signer');
    assert.is(planned.ok ? null : planned.refusal.code, 'POOL_EXHAUSTED', 'the pool exists now (and holds no key): the claim is planned, and refused for want of keys');
  } finally {
    await leases.stop();
    await log.close();
    await secrets.close();
    await dir.cleanup();
  }
});

test.run();
