import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ChainFollower, proposerDuties, untilSlot } from '../support/beacon-chain.js';
import { interopPubkey } from '../support/interop-keys.js';
import { LODESTAR_MISSING, lodestarBinary, SLOTS_PER_EPOCH, startBeaconNode, startValidatorClient, type BeaconNode, type LodestarLogRecord, type ValidatorClient } from '../support/lodestar.js';
import { publishedBlocks, signedAttestations, signedDuties, signingErrors, type SignedDuty } from '../support/lodestar-duties.js';
import { clientKeys, devNetwork, filesClientArgs, keyleaseLoggedAt, slotAt, startPodAgent, startPool, type AgentMode, type DevNetwork, type Pool, type PodAgent } from '../support/lodestar-pods.js';
import type { LogRecord } from '../support/processes.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * Issue 11's scenarios against a real Lodestar 1.5.1: one dev beacon node (minimal preset, 2 s slots,
 * Altair from genesis so every validator signs a sync committee message every slot: per-slot evidence)
 * runs validators 10..23 itself as a backbone, so the chain never stalls; each scenario gets its own
 * coordinator, agents and validator clients, and its own two validators.
 */

const GENESIS_VALIDATORS = 24;
const BACKBONE: readonly [number, number] = [10, 23];
const SECONDS_PER_SLOT = 2;
const SLOT_MS = SECONDS_PER_SLOT * 1000;
const EPOCH_MS = SLOTS_PER_EPOCH * SLOT_MS;
const LEASE_TTL_MS = 6000;
const COOLING_MS = 1000;
/** Keys a client is given are used from its next duty poll (each epoch's start) on: up to two epochs to a first attestation. */
const FIRST_DUTIES_MS = 3 * EPOCH_MS;

let beacon: BeaconNode;
let chain: ChainFollower;
let network: DevNetwork;
let root: { path: string; cleanup: () => Promise<void> };
const fileStarted = Date.now();

/** Processes of one scenario, stopped at its end whatever happened (last started, first stopped). */
class Scene {
  private readonly stops: Array<() => Promise<unknown>> = [];
  /** Starts under way: a scene closed while one still runs (another failed) waits for it, then stops it too. */
  private readonly starting: Array<Promise<unknown>> = [];

  private constructor(readonly dir: string) {}

  static async create(name: string): Promise<Scene> {
    const dir = join(root.path, name);
    await mkdir(dir, { recursive: true });
    return new Scene(dir);
  }

  pool(validatorIndices: readonly number[]): Promise<Pool> {
    return this.start(startPool({ dir: this.dir, network, validatorIndices, leaseTtlMs: LEASE_TTL_MS, coolingMs: COOLING_MS }), (pool) => pool.stop());
  }

  client(name: string, extraArgs: readonly string[] = []): Promise<ValidatorClient> {
    return this.start(startValidatorClient({ dir: join(this.dir, name), beaconNode: beacon, extraArgs }), (client) => client.stop('SIGKILL'));
  }

  agent(pool: Pool, podName: string, mode: AgentMode): Promise<PodAgent> {
    return this.start(startPodAgent({ dir: this.dir, pool, podName, keys: pool.pubkeys.length, mode }), (agent) => agent.process.kill('SIGKILL'));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.starting);
    for (const stop of this.stops.reverse()) await stop().catch(() => {});
  }

  private start<T>(starting: Promise<T>, stop: (started: T) => Promise<unknown>): Promise<T> {
    const started = starting.then((value) => {
      this.stops.push(() => stop(value));
      return value;
    });
    this.starting.push(started);
    return started;
  }
}

const slotOf = (ms: number) => slotAt(network, ms);
const epochOf = (slot: number) => Math.floor(slot / SLOTS_PER_EPOCH);
const sorted = (values: readonly string[]) => [...values].sort();

/** What a client logged signing for `validators`: per-validator duties, and blocks of their keys. */
function signedBy(client: ValidatorClient, validators: readonly number[]): { duties: SignedDuty[]; blocks: Array<{ slot: number; validatorIndex: number; at: number }> } {
  const byPubkey = new Map(validators.map((v) => [interopPubkey(v), v]));
  return {
    duties: signedDuties(client.process.records).filter((d) => validators.includes(d.validatorIndex)),
    blocks: publishedBlocks(client.process.records).flatMap((b) => (byPubkey.has(b.pubkey) ? [{ slot: b.slot, validatorIndex: byPubkey.get(b.pubkey)!, at: b.at }] : [])),
  };
}

/** Every signature of `signed` as "kind validator@slot", blocks as "block validator@slot". */
function signatureIds(signed: ReturnType<typeof signedBy>): Set<string> {
  return new Set([...signed.duties.map((d) => `${d.kind} ${d.validatorIndex}@${d.slot}`), ...signed.blocks.map((b) => `block ${b.validatorIndex}@${b.slot}`)]);
}

/** The latest time a client logged a signature for `validators` (0 if none). */
function lastSignatureAt(client: ValidatorClient, validators: readonly number[]): number {
  const signed = signedBy(client, validators);
  return Math.max(0, ...signed.duties.map((d) => d.at), ...signed.blocks.map((b) => b.at));
}

/** Resolves once `client` logged signing a duty (of `kind`, when given) for `validatorIndex` after `afterMs`. */
function signedDuty(client: ValidatorClient, validatorIndex: number, timeoutMs: number, options: { kind?: SignedDuty['kind']; afterMs?: number } = {}): Promise<SignedDuty> {
  const match = (record: LodestarLogRecord) => {
    const duty = signedDuties([record])[0];
    return duty !== undefined && duty.validatorIndex === validatorIndex && (options.kind === undefined || duty.kind === options.kind) && duty.at > (options.afterMs ?? 0);
  };
  return client.process.waitFor(match, timeoutMs, `a signed ${options.kind ?? 'duty'} of validator ${validatorIndex}`).then((record) => signedDuties([record])[0]!);
}

/** Log records of a keylease process with this message (and pod, when given). */
function logged(records: readonly LogRecord[], msg: string, podName?: string): LogRecord[] {
  return records.filter((r) => r.msg === msg && (podName === undefined || r['podName'] === podName));
}

function measure(line: string): void {
  console.log(`measured: ${line}`);
}

const NAMES = {
  handover:
    'remote-signer mode: a real Lodestar client signs duties through the agent and the chain includes them; a graceful handover (/prestop) to a second client carries the protection, and no (validator, slot) is signed by both',
  sigkill:
    'remote-signer mode: after the agent is SIGKILLed its client signs nothing more for those keys; they go to no other pod before the lease expired, and then with watermarks at least the clock\'s slot and epoch',
  coordinatorGone: 'remote-signer mode: with the coordinator stopped (SIGSTOP), the client\'s signing through the agent ends before the lease could expire',
  keymanager:
    'keymanager mode: pod A stops while Lodestar keeps its keys after the first DELETE; no second pod gets them while A\'s client lists or signs them, no (validator, slot) is signed by both clients, and the protection of every DELETE answer ends in the pool',
  files:
    'files mode: a killed agent\'s keys are quarantined while its client keeps signing with the keys it loaded; a second pod does not get them, nothing is signed twice, and the operator\'s release after the client stopped hands them on with clock watermarks',
};

if (!lodestarBinary()) {
  console.log(`skipped: ${LODESTAR_MISSING}`);
  for (const name of Object.values(NAMES)) test.skip(name, () => {});
} else {
  test.before(async () => {
    root = await tempDir('lodestar-handover');
    beacon = await startBeaconNode({ dir: root.path, validatorCount: GENESIS_VALIDATORS, params: { secondsPerSlot: SECONDS_PER_SLOT, altairForkEpoch: 0 }, ownValidators: BACKBONE });
    network = await devNetwork(beacon);
    chain = ChainFollower.start(beacon.restUrl);
  });

  test.after(async () => {
    await chain?.stop();
    await beacon?.stop();
    await root?.cleanup();
    measure(`lodestar-handover: the whole file took ${((Date.now() - fileStarted) / 1000).toFixed(0)} s`);
  });

  test(NAMES.handover, async () => {
    const validators = [0, 1];
    const scene = await Scene.create('handover');
    try {
      const [pool, clientA, clientB] = await Promise.all([scene.pool(validators), scene.client('vc-a'), scene.client('vc-b')]);
      const agentA = await scene.agent(pool, 'pod-a', { kind: 'remote-signer', client: clientA });
      const claimedA = keyleaseLoggedAt(await agentA.claimed(30_000));
      assert.equal(sorted(await clientKeys(clientA, 'remotekeys')), sorted(pool.pubkeys), 'the agent listed its keys in the client\'s remote keys');

      // 1. The chain includes attestations of the pod's validators; client A has no key of its own, so it signed them through the agent.
      const firstOnChain = await chain.waitFor(
        (c) => (validators.every((v) => c.attestations.some((a) => a.validatorIndex === v)) ? c.attestations.filter((a) => validators.includes(a.validatorIndex)) : undefined),
        FIRST_DUTIES_MS,
        'an attestation of each of pod A\'s validators on chain',
      );
      const loggedByA = signedAttestations(clientA.process.records);
      for (const a of firstOnChain) {
        assert.ok(loggedByA.some((s) => s.validatorIndex === a.validatorIndex && s.slot === a.slot), `client A logged signing the attestation of validator ${a.validatorIndex} at slot ${a.slot} that the chain included`);
      }
      const firstSigned = Math.min(...signedBy(clientA, validators).duties.map((d) => d.at));
      measure(
        `scenario 1 (remote signer signs real duties): claimed at slot ${slotOf(claimedA)}, first signature through the agent at slot ${slotOf(firstSigned)} ` +
          `(${firstSigned - claimedA} ms after the claim), attestations on chain: ${firstOnChain.map((a) => `${a.validatorIndex}@${a.slot} in block ${a.inclusionSlot}`).join(', ')}`,
      );

      // 2. Graceful handover: A's agent takes the keys off its client and hands them back with its watermarks; B's claims them.
      const prestop = await agentA.prestop();
      assert.is(prestop.status, 200, `/prestop answered ${prestop.status}: ${prestop.text}`);
      const handedBackAt = Date.now();
      const stillListedByA = (await clientKeys(clientA, 'remotekeys')).filter((k) => pool.pubkeys.includes(k));
      const signedA = signedBy(clientA, validators);
      for (const [i, v] of validators.entries()) {
        const marks = await pool.watermarks(pool.pubkeys[i]!);
        const lastTarget = Math.max(...signedAttestations(clientA.process.records).filter((a) => a.validatorIndex === v).map((a) => epochOf(a.slot)));
        assert.ok(marks.maxTargetEpoch !== null && marks.maxTargetEpoch >= BigInt(lastTarget), `the pool has validator ${v}'s target watermark ${marks.maxTargetEpoch} from A, at least A's last target ${lastTarget}`);
        const lastBlock = Math.max(-1, ...signedA.blocks.filter((b) => b.validatorIndex === v).map((b) => b.slot));
        if (lastBlock >= 0) assert.ok(marks.maxBlockSlot !== null && marks.maxBlockSlot >= BigInt(lastBlock), `the pool has validator ${v}'s block watermark from A (${lastBlock})`);
      }

      const agentB = await scene.agent(pool, 'pod-b', { kind: 'remote-signer', client: clientB });
      const claimedB = keyleaseLoggedAt(await agentB.claimed(30_000));
      const lastAttestedByA = new Map(validators.map((v) => [v, Math.max(...signedA.duties.filter((d) => d.validatorIndex === v && d.kind === 'attestation').map((d) => d.slot))]));
      const firstOnChainFromB = await chain.waitFor(
        (c) => {
          const fromB = validators.map((v) => c.attestations.find((a) => a.validatorIndex === v && a.slot > lastAttestedByA.get(v)!));
          return fromB.every((a) => a !== undefined) ? fromB.map((a) => a!) : undefined;
        },
        FIRST_DUTIES_MS,
        'an attestation of each moved validator signed by client B on chain',
      );
      assert.is((await agentA.process.kill('SIGTERM')).code, 0, 'agent A, handed back already, exits 0 on SIGTERM');

      const signedB = signedBy(clientB, validators);
      const loggedByB = signedAttestations(clientB.process.records);
      for (const a of firstOnChainFromB) assert.ok(loggedByB.some((s) => s.validatorIndex === a.validatorIndex && s.slot === a.slot), `client B signed the attestation of ${a.validatorIndex}@${a.slot} the chain included`);
      const finalA = signatureIds(signedBy(clientA, validators));
      const both = [...signatureIds(signedB)].filter((id) => finalA.has(id));
      assert.equal(both, [], 'no (validator, slot) signed by both clients');
      assert.ok(lastSignatureAt(clientA, validators) < claimedB, 'A\'s client signed nothing for the keys once B held them');
      const gaps = validators.map((v) => {
        const firstB = Math.min(...signedB.duties.filter((d) => d.validatorIndex === v && d.kind === 'attestation').map((d) => d.slot));
        const lastSyncA = Math.max(...signedA.duties.filter((d) => d.validatorIndex === v && d.kind === 'sync committee message').map((d) => d.slot));
        const firstSyncB = Math.min(...signedB.duties.filter((d) => d.validatorIndex === v && d.kind === 'sync committee message').map((d) => d.slot));
        return `validator ${v}: last attestation by A at slot ${lastAttestedByA.get(v)}, first by B at slot ${firstB} (gap ${firstB - lastAttestedByA.get(v)!} slots); sync committee messages A..${lastSyncA}, B ${firstSyncB}.. (${firstSyncB - lastSyncA - 1} slots unsigned)`;
      });
      measure(
        `scenario 2 (graceful handover): /prestop answered 200 at slot ${slotOf(handedBackAt)}, B claimed ${claimedB - handedBackAt} ms later; ${gaps.join('; ')}; ` +
          `A's client listed ${stillListedByA.length} of the keys as remote keys after /prestop; A signed ${signatureIds(signedA).size} and B ${signatureIds(signedB).size} duties, 0 by both`,
      );
    } finally {
      await scene.close();
    }
  });

  test(NAMES.sigkill, async () => {
    const validators = [2, 3];
    const scene = await Scene.create('sigkill');
    try {
      const [pool, clientA] = await Promise.all([scene.pool(validators), scene.client('vc-a')]);
      const agentA = await scene.agent(pool, 'pod-a', { kind: 'remote-signer', client: clientA });
      const claimedA = keyleaseLoggedAt(await agentA.claimed(30_000));
      for (const v of validators) await signedDuty(clientA, v, FIRST_DUTIES_MS, { afterMs: claimedA });

      // Killed at the start of a slot they do not propose: nothing of theirs is in flight (attestations and
      // sync committee messages come a third into a slot), so every signature for this slot or a later one
      // would have been made after the kill.
      let killSlot = slotOf(Date.now()) + 1;
      while (validators.includes((await proposerDuties(beacon.restUrl, epochOf(killSlot))).get(killSlot)!)) killSlot++;
      await untilSlot(beacon, killSlot);
      await agentA.process.kill('SIGKILL');
      const killedAt = Date.now();
      // Another pod asks for the keys at once.
      const agentB = await scene.agent(pool, 'pod-b', { kind: 'remote-signer' });
      const claimB = await agentB.claimed(LEASE_TTL_MS * 4);
      const claimedB = keyleaseLoggedAt(claimB);
      const coordinatorLog = pool.coordinator.process.records;
      const expiry = logged(coordinatorLog, 'lease expired without renewal', 'pod-a')[0];
      assert.ok(expiry, 'the coordinator expired pod A\'s lease');
      const expiredAt = keyleaseLoggedAt(expiry);
      const lastRenewal = keyleaseLoggedAt(logged(coordinatorLog, 'lease renewed', 'pod-a').at(-1)!);
      assert.ok(claimedB >= lastRenewal + LEASE_TTL_MS, `B got the keys ${claimedB - lastRenewal} ms after A's last renewal reached the coordinator; the lease lives ${LEASE_TTL_MS} ms`);
      assert.ok(claimedB >= expiredAt, 'B got the keys only after the lease expired');
      assert.is(expiry['quarantined'], 0, 'a remote-signer lease that expired is proven stopped by its deadline: cooled, not quarantined');
      const clockSlotAtExpiry = slotOf(expiredAt);
      const marks = await Promise.all(pool.pubkeys.map((k) => pool.watermarks(k)));
      for (const [i, m] of marks.entries()) {
        assert.ok(m.maxBlockSlot !== null && m.maxBlockSlot >= BigInt(clockSlotAtExpiry), `validator ${validators[i]}'s block watermark ${m.maxBlockSlot} is at least the clock's slot ${clockSlotAtExpiry} at expiry`);
        assert.ok(m.maxTargetEpoch !== null && m.maxTargetEpoch >= BigInt(epochOf(clockSlotAtExpiry)), `validator ${validators[i]}'s target watermark ${m.maxTargetEpoch} is at least the clock's epoch ${epochOf(clockSlotAtExpiry)}`);
      }

      // A's client keeps the keys (a dead agent cannot take them off its list) and tries every duty, past an epoch start and its duty poll.
      assert.equal(sorted((await clientKeys(clientA, 'remotekeys')).filter((k) => pool.pubkeys.includes(k))), sorted(pool.pubkeys), 'A\'s client still lists the keys');
      const watchedThrough = (epochOf(killSlot) + 1) * SLOTS_PER_EPOCH + 2;
      await untilSlot(beacon, watchedThrough + 1);
      await chain.waitThrough(watchedThrough + 1, 3 * SLOT_MS);
      const after = signedBy(clientA, validators);
      assert.equal([...after.duties.filter((d) => d.slot >= killSlot), ...after.blocks.filter((b) => b.slot >= killSlot)], [], 'A\'s client signed nothing for the keys from the kill\'s slot on');
      const failed = signingErrors(clientA.process.records).filter((e) => validators.includes(e.validatorIndex) && e.slot >= killSlot);
      assert.ok(failed.length > 0, 'A\'s client tried to sign and could not');
      const onChainAfter = chain.attestations.filter((a) => validators.includes(a.validatorIndex) && a.slot >= killSlot);
      assert.equal(onChainAfter, [], 'the chain has no attestation of these validators from the kill\'s slot on');
      const blocksAfter = [...chain.proposers].filter(([slot, proposer]) => slot >= killSlot && validators.includes(proposer));
      assert.equal(blocksAfter, [], 'nor a block');
      measure(
        `scenario 3 (agent SIGKILL): signatures by A's client after the kill: 0 over slots ${killSlot}..${watchedThrough} (${failed.length} failed signing attempts logged); ` +
          `lease expired ${expiredAt - killedAt} ms after the kill (${expiredAt - lastRenewal} ms after the last renewal received), B claimed ${claimedB - killedAt} ms after the kill; ` +
          `watermarks after expiry: block slots ${marks.map((m) => m.maxBlockSlot).join('/')}, target epochs ${marks.map((m) => m.maxTargetEpoch).join('/')} (clock at expiry: slot ${clockSlotAtExpiry}, epoch ${epochOf(clockSlotAtExpiry)})`,
      );
    } finally {
      await scene.close();
    }
  });

  test(NAMES.coordinatorGone, async () => {
    const validators = [4, 5];
    const scene = await Scene.create('coordinator-gone');
    let pool: Pool | undefined;
    try {
      const [startedPool, clientA] = await Promise.all([scene.pool(validators), scene.client('vc-a')]);
      pool = startedPool;
      const agentA = await scene.agent(pool, 'pod-a', { kind: 'remote-signer', client: clientA });
      const claimedA = keyleaseLoggedAt(await agentA.claimed(30_000));
      for (const v of validators) await signedDuty(clientA, v, FIRST_DUTIES_MS, { afterMs: claimedA });
      const coordinator = pool.coordinator.process;
      const since = Date.now();
      await coordinator.waitFor((r) => r.msg === 'lease renewed' && keyleaseLoggedAt(r) > since, LEASE_TTL_MS, 'a renewal');

      coordinator.child.kill('SIGSTOP');
      const stoppedAt = Date.now();
      const lastRenewal = keyleaseLoggedAt(logged(coordinator.records, 'lease renewed', 'pod-a').at(-1)!);
      const earliestExpiry = lastRenewal + LEASE_TTL_MS;
      await agentA.process.waitForMessage('fenced: keys removed', LEASE_TTL_MS * 2);
      // Two slots past the earliest expiry: any signature the client still got would show by then.
      await untilSlot(beacon, slotOf(earliestExpiry) + 3);
      const lastSigned = lastSignatureAt(clientA, validators);
      const signed = signedBy(clientA, validators);
      const late = [...signed.duties, ...signed.blocks].filter((s) => s.at >= earliestExpiry);
      assert.equal(late, [], 'nothing signed at or after the earliest expiry');
      assert.ok(lastSigned < earliestExpiry, `the last signature came ${lastSigned - lastRenewal} ms after the last renewal was received; the lease lives ${LEASE_TTL_MS} ms`);
      const afterStop = signed.duties.filter((d) => d.at > stoppedAt);
      measure(
        `scenario 4 (coordinator stopped): signing stopped ${earliestExpiry - lastSigned} ms before the earliest possible expiry ` +
          `(last signature at slot ${slotOf(lastSigned)}, ${lastSigned - lastRenewal} ms after the last renewal was received; ${afterStop.length} signatures between SIGSTOP and the fence, slots ${[...new Set(afterStop.map((d) => d.slot))].join(',') || 'none'})`,
      );
    } finally {
      pool?.coordinator.process.child.kill('SIGCONT');
      await scene.close();
    }
  });

  test(NAMES.keymanager, async () => {
    const validators = [6, 7];
    const scene = await Scene.create('keymanager');
    try {
      const [pool, clientA, clientB] = await Promise.all([scene.pool(validators), scene.client('vc-a'), scene.client('vc-b')]);
      const agentA = await scene.agent(pool, 'pod-a', { kind: 'keymanager', client: clientA });
      const claimedA = keyleaseLoggedAt(await agentA.claimed(30_000));
      assert.equal(sorted(await clientKeys(clientA, 'keystores')), sorted(pool.pubkeys), 'A\'s client holds the imported keys');
      for (const v of validators) await signedDuty(clientA, v, FIRST_DUTIES_MS, { kind: 'attestation', afterMs: claimedA });
      const agentB = await scene.agent(pool, 'pod-b', { kind: 'keymanager', client: clientB });
      await agentB.process.waitFor((r) => r.msg === 'waiting for free keys' || r.msg === 'claim failed; retrying', 30_000, 'pod B asking for keys');

      // While A hands back, watch what its client lists.
      let lastListedByA = 0;
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          const listed = await clientKeys(clientA, 'keystores').catch(() => []);
          if (listed.some((k) => pool.pubkeys.includes(k))) lastListedByA = Date.now();
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      const sigtermAt = Date.now();
      const exitA = await agentA.process.kill('SIGTERM');
      assert.is(exitA.code, 0, 'agent A exits 0 once its keys are handed back');
      const claimedB = keyleaseLoggedAt(await agentB.claimed(30_000));
      watching = false;
      await watcher;

      const unproven = logged(agentA.process.records, 'could not prove the keys left the validator client; retrying until it does, and nothing is handed back meanwhile');
      const proven = logged(agentA.process.records, 'removal from the validator client proven')[0];
      assert.ok(unproven.length > 0 && proven, 'Lodestar kept the keys after the first DELETE, and the agent retried until a GET proved them gone');
      const released = logged(agentA.process.records, 'lease released')[0];
      assert.ok(released && released['withSlashingProtection'] === true, 'A released the lease with its client\'s slashing protection');
      const firstDeleteAt = keyleaseLoggedAt(unproven[0]!);
      const lastSignedByA = lastSignatureAt(clientA, validators);
      assert.ok(lastListedByA < claimedB, `A's client listed the keys until ${claimedB - lastListedByA} ms before B got them`);
      assert.ok(lastSignedByA < claimedB, 'A\'s client signed nothing for them once B held them');

      const signedA = signedBy(clientA, validators);
      for (const [i, v] of validators.entries()) {
        const marks = await pool.watermarks(pool.pubkeys[i]!);
        const lastTarget = Math.max(...signedA.duties.filter((d) => d.validatorIndex === v && d.kind === 'attestation').map((d) => epochOf(d.slot)));
        assert.ok(marks.maxTargetEpoch !== null && marks.maxTargetEpoch >= BigInt(lastTarget), `validator ${v}: the pool's target watermark ${marks.maxTargetEpoch} is at least A's last signed target ${lastTarget}`);
        const lastBlock = Math.max(-1, ...signedA.blocks.filter((b) => b.validatorIndex === v).map((b) => b.slot));
        if (lastBlock >= 0) assert.ok(marks.maxBlockSlot !== null && marks.maxBlockSlot >= BigInt(lastBlock), `validator ${v}: the pool's block watermark is at least A's last block ${lastBlock}`);
      }

      // B signs with them; per slot, never what A signed.
      const firstByB = [];
      for (const v of validators) firstByB.push(await signedDuty(clientB, v, FIRST_DUTIES_MS, { afterMs: claimedB }));
      await untilSlot(beacon, Math.max(...firstByB.map((d) => d.slot)) + 2);
      const idsA = signatureIds(signedBy(clientA, validators));
      const signedB = signedBy(clientB, validators);
      const both = [...signatureIds(signedB)].filter((id) => idsA.has(id));
      assert.equal(both, [], 'no (validator, slot) signed by both clients');
      const included = chain.attestations.filter((a) => validators.includes(a.validatorIndex) && a.slot >= slotOf(claimedA));
      const idsB = signatureIds(signedB);
      for (const a of included) {
        const by = [idsA.has(`attestation ${a.validatorIndex}@${a.slot}`), idsB.has(`attestation ${a.validatorIndex}@${a.slot}`)].filter(Boolean).length;
        assert.is(by, 1, `the attestation of ${a.validatorIndex}@${a.slot} on chain was signed by exactly one client`);
      }
      const afterFirstDelete = [...signedA.duties, ...signedA.blocks].filter((s) => s.at > firstDeleteAt).length;
      const marks = await Promise.all(pool.pubkeys.map((k) => pool.watermarks(k)));
      measure(
        `scenario 5 (keymanager, DELETE deviation): ${Number(proven['attempts'])} DELETE rounds until GET proved removal, ${keyleaseLoggedAt(proven) - firstDeleteAt} ms after the first ("${String(unproven[0]!['error'])}"); ` +
          `A's client signed ${afterFirstDelete} duties after its first DELETE answer and listed the keys until ${lastListedByA - sigtermAt} ms after SIGTERM; ` +
          `B got the keys ${claimedB - lastListedByA} ms after A's client last listed them and ${claimedB - lastSignedByA} ms after its last signature; ` +
          `pool target watermarks ${marks.map((m) => m.maxTargetEpoch).join('/')}; A's last attestation slot ${Math.max(...signedA.duties.filter((d) => d.kind === 'attestation').map((d) => d.slot))}, B's first signature at slots ${firstByB.map((d) => d.slot).join('/')}; 0 of ${idsA.size + idsB.size} signatures by both`,
      );
    } finally {
      await scene.close();
    }
  });

  test(NAMES.files, async () => {
    const validators = [8, 9];
    const scene = await Scene.create('files');
    try {
      const pool = await scene.pool(validators);
      const outA = join(scene.dir, 'pod-a-keys');
      const outB = join(scene.dir, 'pod-b-keys');
      const agentA = await scene.agent(pool, 'pod-a', { kind: 'files', outDir: outA });
      const claimedA = keyleaseLoggedAt(await agentA.claimed(30_000));
      // Lodestar reads keystore files once, at start.
      const clientA = await scene.client('vc-a', filesClientArgs(outA));
      for (const v of validators) await signedDuty(clientA, v, FIRST_DUTIES_MS, { afterMs: claimedA });
      const agentB = await scene.agent(pool, 'pod-b', { kind: 'files', outDir: outB });
      await agentB.process.waitFor((r) => r.msg === 'waiting for free keys' || r.msg === 'claim failed; retrying', 30_000, 'pod B asking for keys');

      await agentA.process.kill('SIGKILL');
      const killedAt = Date.now();
      const expiry = await pool.coordinator.process.waitFor((r) => r.msg === 'lease expired without renewal' && r['podName'] === 'pod-a', LEASE_TTL_MS * 3, 'pod A\'s lease expiring');
      assert.is(expiry['quarantined'], validators.length, 'a files-mode lease that expired quarantines its keys');
      const expiredAt = keyleaseLoggedAt(expiry);
      const assignments = await pool.assignments();
      assert.equal(
        sorted(assignments.quarantined.filter((q) => q.podName === 'pod-a' && q.cause === 'files_mode').map((q) => q.pubKey)),
        sorted(pool.pubkeys),
        '/assignments shows the keys quarantined with their last holder',
      );
      // The premise: the client goes on signing with what it loaded, with nobody to stop it, and the chain takes it.
      for (const v of validators) await signedDuty(clientA, v, 2 * EPOCH_MS + SLOT_MS, { kind: 'attestation', afterMs: expiredAt });
      // Not every attestation makes it: one is includable only for an epoch after its slot, and the proposers of
      // this chain's idle pool validators miss their slots. One on chain, signed after the expiry, proves the premise.
      const expirySlot = slotOf(expiredAt);
      const takenWhileQuarantined = await chain.waitFor(
        (c) => c.attestations.find((a) => validators.includes(a.validatorIndex) && a.slot >= expirySlot),
        3 * EPOCH_MS,
        'an attestation A\'s client signed while its keys were quarantined, on chain',
      );

      assert.is(logged(agentB.process.records, 'keys claimed and written').length, 0, 'pod B got no keys');
      assert.ok(!(await pool.assignments()).pods.some((p) => p.podName === 'pod-b'), 'pod B holds no lease');
      assert.equal(await readdir(join(outB, 'keystores')).catch(() => []), [], 'pod B\'s client was given no keystore');
      const killSlot = slotOf(killedAt);
      const signedA = signedBy(clientA, validators);
      const idsA = signatureIds(signedA);
      const onChainAfter = chain.attestations.filter((a) => validators.includes(a.validatorIndex) && a.slot > killSlot);
      for (const a of onChainAfter) assert.ok(idsA.has(`attestation ${a.validatorIndex}@${a.slot}`), `the attestation of ${a.validatorIndex}@${a.slot} on chain is A's`);
      for (const [slot, proposer] of chain.proposers) {
        if (slot > killSlot && validators.includes(proposer)) assert.ok(idsA.has(`block ${proposer}@${slot}`), `the block of slot ${slot} is A's`);
      }
      const signedAfterKill = [...signedA.duties, ...signedA.blocks].filter((s) => s.at > killedAt);

      // The pod is gone (its client stopped); the operator says so, and B gets the keys with watermarks from the clock.
      await clientA.stop();
      const released = await pool.releaseQuarantine(pool.pubkeys);
      assert.is(released.status, 200, JSON.stringify(released.body));
      const releasedAt = Date.now();
      const claimedB = keyleaseLoggedAt(await agentB.claimed(30_000));
      const marks = await Promise.all(pool.pubkeys.map((k) => pool.watermarks(k)));
      for (const [i, m] of marks.entries()) {
        assert.ok(m.maxBlockSlot !== null && m.maxBlockSlot >= BigInt(slotOf(releasedAt)), `validator ${validators[i]}'s block watermark ${m.maxBlockSlot} is at least the clock's slot at release`);
        assert.ok(m.maxTargetEpoch !== null && m.maxTargetEpoch >= BigInt(epochOf(slotOf(releasedAt))), `validator ${validators[i]}'s target watermark is at least the clock's epoch at release`);
      }
      assert.is((await readdir(join(outB, 'keystores'))).length, validators.length, 'pod B\'s client is given the keystores');
      measure(
        `scenario 6 (files, agent SIGKILL): quarantined ${expiredAt - killedAt} ms after the kill; A's client went on signing (${signedAfterKill.length} signatures after the kill, ` +
          `last at slot ${slotOf(Math.max(...signedAfterKill.map((s) => s.at)))}; ${takenWhileQuarantined.validatorIndex}@${takenWhileQuarantined.slot} on chain, signed after the expiry at slot ${expirySlot}), none by another client (${onChainAfter.length} attestations of these validators on chain after the kill, all A's: ${onChainAfter.map((a) => `${a.validatorIndex}@${a.slot}`).join(', ')}); ` +
          `B waited ${claimedB - killedAt} ms and got the keys ${claimedB - releasedAt} ms after the operator's release, with block/target watermarks ${marks.map((m) => `${m.maxBlockSlot}/${m.maxTargetEpoch}`).join(', ')} (clock slot ${slotOf(releasedAt)})`,
      );
    } finally {
      await scene.close();
    }
  });
}

test.run();
