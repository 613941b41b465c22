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
  /** Whether the leader lease holds (see ReplicatedLog.leaderLeaseHeld). */
  leaseHeld = true;
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
      leaderLeaseHeld: () => this.leading && this.leaseHeld,
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

/** A pool of one imported key, the keeper started, and POD's lease on the key; returns the lease id. */
async function claimOneKey(log: ReplicatedLog, keeper: LeaseKeeper): Promise<string> {
  const nowMs = Date.now();
  await log.propose({ type: 'ConfigurePool', nowMs, pool: 'default', settings: { derive: false, maxKeys: 10, maxKeysPerClaim: 2, coolingMs: 0, leaseTtlMs: 30_000, genesisValidatorsRoot: GVR, historyRetentionMs: 60_000, depositMode: 'none' } });
  await log.propose({ type: 'ImportKeys', nowMs, pool: 'default', keys: [{ pubKey: '0x' + 'a1'.repeat(48), path: '', sealedSecret: 'sealed' }] });
  await keeper.start();
  const claimed = await log.propose({ type: 'Claim', nowMs, podName: POD.podName, pool: 'default', count: 1, derivedKeys: [] });
  if (!claimed.ok) throw new Error(`the claim was refused: ${claimed.refusal.message}`);
  return claimed.value.lease.leaseId;
}

test('a renewal that reaches a new leader before it has read the leases waits for the read, and is granted', async () => {
  const dir = await tempDir('lease-keeper');
  const inner = await SingleReplicaLog.open({ directory: join(dir.path, 'log'), logger: silentLogger });
  const steered = new SteeredLog(inner);
  const log = steered.asLog();
  const keeper = new LeaseKeeper(log, systemClock, silentLogger);
  try {
    const leaseId = await claimOneKey(log, keeper);
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

/** Lets every queued callback and timer-free continuation run: what can run without a read does. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

test('a leader whose lease lapsed answers a renewal only after a quorum round, and refuses it if it lost leadership meanwhile', async () => {
  const dir = await tempDir('lease-keeper-lapsed');
  const inner = await SingleReplicaLog.open({ directory: join(dir.path, 'log'), logger: silentLogger });
  const steered = new SteeredLog(inner);
  const log = steered.asLog();
  let confirmedByQuorum = 0;
  const keeper = new LeaseKeeper(log, systemClock, silentLogger, { onRenewalConfirmedByQuorum: () => confirmedByQuorum++ });
  try {
    const leaseId = await claimOneKey(log, keeper);
    assert.ok((await keeper.renew(POD, leaseId)).ok, 'renewed from memory under the lease');
    assert.is(confirmedByQuorum, 0, 'without a quorum round');

    steered.leaseHeld = false;
    let openGate = () => {};
    steered.readGate = new Promise<void>((resolve) => (openGate = resolve));
    let answered = false;
    const confirmed = keeper.renew(POD, leaseId).finally(() => (answered = true));
    await settle();
    assert.is(answered, false, 'the renewal waits for the quorum round');
    steered.readGate = null;
    openGate();
    assert.ok((await confirmed).ok, 'and is answered once the round confirmed the leadership');
    assert.is(confirmedByQuorum, 1, 'counted for the metric');

    steered.readGate = new Promise<void>((resolve) => (openGate = resolve));
    const deposed = keeper.renew(POD, leaseId);
    await settle();
    // Another replica was elected while the round was out: this one learns it before the round ends.
    steered.setLeading(false);
    steered.readGate = null;
    openGate();
    try {
      await deposed;
      assert.unreachable('a deposed leader answered a renewal');
    } catch (error) {
      assert.instance(error, NotLeaderError);
    }
  } finally {
    keeper.stop();
    await log.close();
    await dir.cleanup();
  }
});

test.run();
