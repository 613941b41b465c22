/**
 * The lease keeper across a change of leader, on a real single-replica log (LevelDB files): the test
 * only decides when leadership changes and when the new leader's read of the leases completes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import type { ReadonlyCoreState } from '../../coordinator/core/index.js';
import { LeaseKeeper } from '../../coordinator/leases/lease-keeper.js';
import { NotLeaderError } from '../../coordinator/replication/errors.js';
import { SingleReplicaLog } from '../../coordinator/replication/single-replica-log.js';
import type { ReplicatedLog } from '../../coordinator/replication/types.js';
import { systemClock } from '../../shared/clock/clock.js';
import { silentLogger } from '../../shared/log/logger.js';
import { tempDir } from '../support/temp-dir.js';

const GVR = '0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95';
const POD = { podName: 'validator-0', podUid: null };

/** The real log, with leadership changes and the timing of reads in the test's hands. */
class SteeredLog {
  private readonly leadershipListeners = new Set<(isLeader: boolean) => void>();
  leading = true;
  /** While set, reads wait for it. */
  readGate: Promise<void> | null = null;

  constructor(readonly inner: SingleReplicaLog) {}

  asLog(): ReplicatedLog {
    return {
      propose: (command) => this.inner.propose(command),
      read: async <T>(query: (state: ReadonlyCoreState) => T) => {
        if (this.readGate) await this.readGate;
        return this.inner.read(query);
      },
      peek: (query) => this.inner.peek(query),
      isLeader: () => this.leading,
      leaderHint: () => null,
      onApplied: (listener) => this.inner.onApplied(listener),
      onLeadershipChange: (listener) => {
        this.leadershipListeners.add(listener);
        return () => this.leadershipListeners.delete(listener);
      },
      close: () => this.inner.close(),
    };
  }

  setLeading(leading: boolean): void {
    this.leading = leading;
    for (const listener of this.leadershipListeners) listener(leading);
  }
}

test('a renewal that reaches a new leader before it has read the leases waits for the read, and is granted', async () => {
  const dir = await tempDir('lease-keeper');
  const inner = await SingleReplicaLog.open({ directory: join(dir.path, 'log'), logger: silentLogger });
  const steered = new SteeredLog(inner);
  const log = steered.asLog();
  const keeper = new LeaseKeeper(log, systemClock, silentLogger);
  try {
    const nowMs = Date.now();
    await log.propose({ type: 'ConfigurePool', nowMs, pool: 'default', settings: { derive: false, maxKeys: 10, maxKeysPerClaim: 2, coolingMs: 0, leaseTtlMs: 30_000, genesisValidatorsRoot: GVR, historyRetentionMs: 60_000, depositMode: 'none' } });
    await log.propose({ type: 'ImportKeys', nowMs, pool: 'default', keys: [{ pubKey: '0x' + 'a1'.repeat(48), path: '', sealedSecret: 'sealed' }] });
    await keeper.start();
    const claimed = await log.propose({ type: 'Claim', nowMs, podName: POD.podName, pool: 'default', count: 1, derivedKeys: [] });
    assert.ok(claimed.ok);
    const leaseId = claimed.ok ? claimed.value.lease.leaseId : '';
    assert.ok((await keeper.renew(POD, leaseId)).ok, 'renewed while leading');

    // Leadership is lost and regained; the new term's read of the leases is held back.
    let openGate = () => {};
    steered.readGate = new Promise<void>((resolve) => (openGate = resolve));
    steered.setLeading(false);
    try {
      await keeper.renew(POD, leaseId);
      assert.unreachable('a replica that does not lead answered a renewal');
    } catch (error) {
      assert.instance(error, NotLeaderError);
    }
    steered.setLeading(true);
    let answered = false;
    const renewal = keeper.renew(POD, leaseId).finally(() => (answered = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.is(answered, false, 'the renewal waits while the leases are being read');
    steered.readGate = null;
    openGate();
    const result = await renewal;
    assert.ok(result.ok, `the live lease is renewed, not called unknown: ${JSON.stringify(result)}`);
    assert.ok(keeper.expiresAtWallMs(POD.podName)! > Date.now() + 25_000, 'with a full TTL from the new leader');

    const unknown = await keeper.renew(POD, 'lease-999');
    assert.is(unknown.ok, false);
    if (!unknown.ok) assert.is(unknown.refusal.code, 'LEASE_NOT_FOUND', 'a lease that does not exist is still refused');
  } finally {
    keeper.stop();
    await log.close();
    await dir.cleanup();
  }
});

test.run();
