/**
 * The moment after a new cluster's first election: the leader leads before the entry creating its pool
 * (ConfigurePool, which it proposes once it leads) is applied. A claim on that pool then waits for that
 * setup, or is told to retry, never refused: agents stop on a refusal (seen in CI as "unknown pool
 * "default": known pools are none"), and a test's single claim failed on "retry shortly".
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AllocationService, type AllocationOptions } from '../../coordinator/allocation/allocation-service.js';
import { PoolNotReadyError } from '../../coordinator/allocation/errors.js';
import { PoolSecrets } from '../../coordinator/keys/pool-secrets.js';
import { LeaseKeeper } from '../../coordinator/leases/lease-keeper.js';
import { SingleReplicaLog } from '../../coordinator/replication/single-replica-log.js';
import { systemClock } from '../../shared/clock/clock.js';
import { silentLogger } from '../../shared/log/logger.js';
import { tempDir } from '../support/temp-dir.js';

const settings = { derive: false, maxKeys: 100, maxKeysPerClaim: 4, coolingMs: 0, leaseTtlMs: 5000, genesisValidatorsRoot: '0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95', historyRetentionMs: 60_000, depositMode: 'none' as const };
const pod = { podName: 'validator-0', podUid: null };

/** A single-replica log with no pool yet, and an allocation service over it built from `options`. */
async function withEmptyLog(options: AllocationOptions, run: (allocation: AllocationService, log: SingleReplicaLog) => Promise<void>): Promise<void> {
  const dir = await tempDir('pool-not-ready');
  const log = await SingleReplicaLog.open({ directory: dir.path, logger: silentLogger });
  const secrets = new PoolSecrets(Buffer.alloc(32, 7), new Map());
  const leases = new LeaseKeeper(log, systemClock, silentLogger);
  await leases.start();
  try {
    await run(new AllocationService(log, secrets, leases, systemClock, silentLogger, options), log);
  } finally {
    await leases.stop();
    await log.close();
    await secrets.close();
    await dir.cleanup();
  }
}

test("a claim on the coordinator's own pool before the pool exists is 'retry shortly'; on any other unknown pool it is refused; once the pool exists it is planned as ever", async () => {
  await withEmptyLog({ configuredPool: 'default' }, async (allocation, log) => {
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
  });
});

test('a claim that arrives while the leader is creating its pool waits for that and is planned; it is told to retry only when the pool is still missing after', async () => {
  let setup: Promise<void> | null = null;
  let createPool = (): void => undefined;
  await withEmptyLog({ configuredPool: 'default', poolSetup: () => setup }, async (allocation, log) => {
    // A setup that creates nothing: the claim waits for it once, then is told to retry.
    setup = Promise.resolve();
    const stillMissing = await allocation.claim(pod, 'default', 1, 'signer').then(
      () => null,
      (error: unknown) => error,
    );
    assert.instance(stillMissing, PoolNotReadyError, 'the pool is still unknown after the setup: retry');

    setup = new Promise<void>((resolve) => {
      createPool = () => void log.propose({ type: 'ConfigurePool', nowMs: 1, pool: 'default', settings }).then(() => resolve());
    });
    const claim = allocation.claim(pod, 'default', 1, 'signer');
    let settled = false;
    void claim.then(() => (settled = true), () => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.is(settled, false, 'the claim waits for the setup under way');
    createPool();
    const planned = await claim;
    assert.is(planned.ok ? null : planned.refusal.code, 'POOL_EXHAUSTED', 'once the setup created the pool, the claim is planned (and refused for want of keys)');
  });
});

test.run();
