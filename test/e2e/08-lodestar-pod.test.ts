/**
 * A real Lodestar 1.5.1 validator client in the Lodestar pod of k8s/examples, on a `lodestar dev` chain
 * in the cluster (support/lodestar-in-cluster.ts), with a keylease installation for that chain
 * (support/dev-keylease.ts) whose pool holds interop validators 0..3; the beacon node runs 4..15 itself.
 * The webhook injects the agent, the client takes its keys from the agent (its remote signer) at start,
 * and the chain includes what keylease signed; `kubectl delete pod` runs the preStop handover, and the
 * replacement pod's client signs on with no (validator, slot) signed by both.
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ChainFollower, type IncludedAttestation } from '../support/beacon-chain.js';
import { SLOTS_PER_EPOCH, type LodestarLogRecord } from '../support/lodestar.js';
import { publishedBlocks, signedAttestations, signedDuties } from '../support/lodestar-duties.js';
import { devNetwork } from '../support/lodestar-pods.js';
import { DEV_VALIDATORS, deployDevKeylease } from './support/dev-keylease.js';
import { e2eCluster, Kubectl, podReady, waitUntil } from './support/kube.js';
import { clientLog, exampleLodestarValidator, externalSignerKeys, lodestarCacheDir, SECONDS_PER_SLOT, startClusterBeacon } from './support/lodestar-in-cluster.js';

const POOL_VALIDATORS = [0, 1, 2, 3];
const GENESIS_VALIDATORS = 16;
const BACKBONE: readonly [number, number] = [4, 15];
const STS = 'lodestar-validator';
const POD = `${STS}-0`;
const EPOCH_MS = SLOTS_PER_EPOCH * SECONDS_PER_SLOT * 1000;
/** Keys a client takes at start sign from its first duty poll (an epoch's start) on; an attestation is included within about an epoch. */
const FIRST_INCLUSION_MS = 4 * EPOCH_MS;

const lodestarDir = lodestarCacheDir();
const cluster = e2eCluster();
const kubectl = new Kubectl(cluster.kubeconfigFile);
const logDir = join(cluster.dir, 'lodestar-logs');
const seconds = (ms: number) => (ms / 1000).toFixed(1);

await kubectl.apply(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: DEV_VALIDATORS, labels: { 'kubernetes.io/metadata.name': DEV_VALIDATORS } } }));
const beacon = await startClusterBeacon(kubectl, { image: cluster.image, namespace: DEV_VALIDATORS, lodestarDir, genesisValidators: GENESIS_VALIDATORS, ownValidators: BACKBONE });
const network = await devNetwork(beacon);
const pool = await deployDevKeylease(cluster, kubectl, network, POOL_VALIDATORS);
const chain = ChainFollower.start(beacon.restUrl);
const slotAt = (ms: number) => Math.floor((ms / 1000 - network.genesisTime) / network.secondsPerSlot);

const created = performance.now();
await kubectl.apply(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: exampleLodestarValidator({ image: cluster.image, namespace: DEV_VALIDATORS, lodestarDir, beaconUrl: beacon.serviceUrl, logDir }) }));
const first = await readyPod();
const firstUid = first.metadata.uid as string;
const firstReadyAt = Date.now();
process.stdout.write(`measured: real Lodestar pod ready ${seconds(performance.now() - created)} s after its StatefulSet was created (agent injected, ${POOL_VALIDATORS.length} keys claimed, client started)\n`);

async function readyPod(notUid?: string): Promise<any> {
  return waitUntil(`pod ${POD} ready`, 180_000, async () => {
    const pod = await kubectl.find(['-n', DEV_VALIDATORS, 'get', 'pod', POD]);
    return pod && podReady(pod) && pod.metadata.uid !== notUid && !pod.metadata.deletionTimestamp ? pod : undefined;
  });
}

/** The pool's validators' attestations on chain that `records` (one pod's client) logged signing. */
function includedFrom(records: readonly LodestarLogRecord[], attestations: readonly IncludedAttestation[]): IncludedAttestation[] {
  const signed = new Set(signedAttestations(records).map((a) => `${a.validatorIndex}@${a.slot}`));
  return attestations.filter((a) => POOL_VALIDATORS.includes(a.validatorIndex) && signed.has(`${a.validatorIndex}@${a.slot}`));
}

/** Every signature a client logged for the pool's validators, as "kind validator@slot". */
function signatureIds(records: readonly LodestarLogRecord[]): string[] {
  const byPubkey = new Map(pool.pubkeys.map((k, i) => [k, POOL_VALIDATORS[i]!]));
  return [
    ...signedDuties(records).filter((d) => POOL_VALIDATORS.includes(d.validatorIndex)).map((d) => `${d.kind} ${d.validatorIndex}@${d.slot}`),
    ...publishedBlocks(records).filter((b) => byPubkey.has(b.pubkey)).map((b) => `block ${byPubkey.get(b.pubkey)}@${b.slot}`),
  ];
}

/**
 * What a client logs when its signer fails or refuses (test/lodestar/README.md, "The signer refusing"):
 * a lost attestation, proposal, duty download or sync committee round. Errors of the beacon node taking
 * what was signed (a contribution published a slot late on a busy machine) are not the signer's.
 */
const SIGNING_FAILURE = /^(Error signing|Error proposing block|Failed to download attester duties|Error on runSyncCommitteeTasks|Failed to register validator)/;

/** Signing failures a client logged between `fromMs` and `toMs`. */
function signingFailures(records: readonly LodestarLogRecord[], fromMs: number, toMs: number): string[] {
  return records
    .filter((r) => r.level === 'error' && SIGNING_FAILURE.test(r.message) && Date.parse(r.timestamp ?? '') >= fromMs && Date.parse(r.timestamp ?? '') <= toMs)
    .map((r) => `${r.timestamp} ${r.message} ${JSON.stringify(r.context ?? {})} ${JSON.stringify(r.error ?? '')}`.slice(0, 400));
}

test.after(async () => {
  await chain.stop();
  // Leave no Lodestar running for whatever comes next on the machine.
  await kubectl.run(['-n', DEV_VALIDATORS, 'delete', 'statefulset', STS, '--wait=false']).catch(() => {});
  await kubectl.run(['-n', DEV_VALIDATORS, 'delete', 'deployment', 'lodestar-beacon', '--wait=false']).catch(() => {});
});

test('the webhook injected the agent (with the dev chain\'s preset) and the real client took its keys from it at start', async () => {
  assert.equal(first.spec.containers.map((c: { name: string }) => c.name), ['keylease-agent', 'lodestar']);
  const agentEnv = Object.fromEntries(first.spec.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]));
  assert.is(agentEnv['KEYLEASE_SIGNER_PRESET'], 'minimal');
  assert.is(agentEnv['KEYLEASE_COORDINATOR'], 'keylease-coordinator.keylease-dev.svc:7400');
  const held = await waitUntil('the pod in the dev pool\'s /assignments', 30_000, async () => (await pool.assignments()).pods.find((p) => p.podName === `${DEV_VALIDATORS}/${POD}`));
  assert.equal([...held.pubKeys].sort(), [...pool.pubkeys].sort(), 'the agent claimed every key of the pool');
  const fetched = await waitUntil('the client logging its external signer\'s keys', 60_000, async () => externalSignerKeys(clientLog(logDir, first.metadata.uid)));
  assert.is(fetched.url, 'http://127.0.0.1:9000', 'the client\'s signer is the agent on the pod\'s loopback');
  assert.equal([...fetched.pubkeys].sort(), [...pool.pubkeys].sort(), 'the client got every key from the agent at start');
  const records = clientLog(logDir, first.metadata.uid);
  assert.not.ok(records.some((r) => / local keystores$/.test(r.message)), 'the client has no key of its own');
});

test('the chain includes the attestations the agent signed for the real client, with no signing error', async () => {
  const included = await chain.waitFor(
    (c) => {
      const fromPod = includedFrom(clientLog(logDir, firstUid), c.attestations);
      return POOL_VALIDATORS.every((v) => fromPod.some((a) => a.validatorIndex === v)) ? fromPod : undefined;
    },
    FIRST_INCLUSION_MS,
    'an attestation of every pool validator, signed through the agent, on chain',
  );
  const firstIncludedSlot = Math.min(...included.map((a) => a.inclusionSlot));
  const firstIncludedAtMs = (network.genesisTime + firstIncludedSlot * network.secondsPerSlot) * 1000;
  process.stdout.write(
    `measured: first attestation through the agent included ${seconds(firstIncludedAtMs - firstReadyAt)} s after the pod was ready (block of slot ${firstIncludedSlot}; ` +
      `every pool validator's by slot ${Math.max(...included.map((a) => a.inclusionSlot))}, ${seconds(Date.now() - firstReadyAt)} s after ready)\n`,
  );
  const records = clientLog(logDir, firstUid);
  const syncMessages = signedDuties(records).filter((d) => d.kind === 'sync committee message' && POOL_VALIDATORS.includes(d.validatorIndex));
  assert.ok(syncMessages.length > 0, 'the client had sync committee messages signed (Altair, minimal preset)');
  assert.equal(signingFailures(records, 0, Date.now()), [], 'no signing failure logged by the client while the agent held its keys');
});

test('kubectl delete pod: the preStop handover frees the keys with their slashing protection; the replacement\'s real client signs on, no (validator, slot) signed by both', async () => {
  const held = (await pool.assignments()).pods.find((p) => p.podName === `${DEV_VALIDATORS}/${POD}`)!;
  const deleted = performance.now();
  const deletedAt = Date.now();
  await kubectl.run(['-n', DEV_VALIDATORS, 'delete', 'pod', POD, '--wait=false']);
  const firstReleasedAt = await waitUntil('the keys back in the dev pool', 60_000, async () => {
    const now = await pool.assignments();
    const heldBack = [...now.cooling, ...now.quarantined].filter((k) => pool.pubkeys.includes(k.pubKey));
    if (heldBack.length) throw new Error(`held back: ${JSON.stringify(heldBack)}`);
    return now.pods.some((p) => p.leaseId === held.leaseId) ? undefined : Date.now();
  }, 100);
  process.stdout.write(`measured: handover on kubectl delete pod (real Lodestar): keys free ${seconds(performance.now() - deleted)} s after the delete (preStop hook, release with slashing protection)\n`);

  // The pool's watermarks cover everything the old pod's client had signed.
  const recordsA = clientLog(logDir, firstUid);
  for (const [i, v] of POOL_VALIDATORS.entries()) {
    const marks = await pool.watermarks(pool.pubkeys[i]!);
    const lastTarget = Math.max(...signedAttestations(recordsA).filter((a) => a.validatorIndex === v).map((a) => Math.floor(a.slot / SLOTS_PER_EPOCH)));
    assert.ok(marks.maxTargetEpoch !== null && marks.maxTargetEpoch >= BigInt(lastTarget), `validator ${v}: the pool's target watermark ${marks.maxTargetEpoch} covers the old client's last target ${lastTarget}`);
    const lastBlock = Math.max(-1, ...publishedBlocks(recordsA).filter((b) => b.pubkey === pool.pubkeys[i]).map((b) => b.slot));
    if (lastBlock >= 0) assert.ok(marks.maxBlockSlot !== null && marks.maxBlockSlot >= BigInt(lastBlock), `validator ${v}: the pool's block watermark covers the old client's block at ${lastBlock}`);
  }

  const replacement = await readyPod(firstUid);
  const replacementReadyAt = Date.now();
  process.stdout.write(`measured: replacement real Lodestar pod ready ${seconds(performance.now() - deleted)} s after the delete\n`);
  const after = await waitUntil('the replacement holding the keys', 30_000, async () => (await pool.assignments()).pods.find((p) => p.podName === `${DEV_VALIDATORS}/${POD}` && p.leaseId !== held.leaseId));
  assert.equal([...after.pubKeys].sort(), [...pool.pubkeys].sort());

  const uidB = replacement.metadata.uid as string;
  const lastAttestedByA = new Map(POOL_VALIDATORS.map((v) => [v, Math.max(...signedAttestations(clientLog(logDir, firstUid)).filter((a) => a.validatorIndex === v).map((a) => a.slot))]));
  const includedB = await chain.waitFor(
    (c) => {
      const fromB = includedFrom(clientLog(logDir, uidB), c.attestations);
      return POOL_VALIDATORS.every((v) => fromB.some((a) => a.validatorIndex === v)) ? fromB : undefined;
    },
    FIRST_INCLUSION_MS,
    'an attestation of every pool validator signed by the replacement\'s client on chain',
  );
  const firstIncludedSlotB = Math.min(...includedB.map((a) => a.inclusionSlot));
  process.stdout.write(
    `measured: replacement's first attestation included ${seconds((network.genesisTime + firstIncludedSlotB * network.secondsPerSlot) * 1000 - replacementReadyAt)} s after it was ready; ` +
      `attestation gap per validator: ${POOL_VALIDATORS.map((v) => `${v}: A..${lastAttestedByA.get(v)}, B ${Math.min(...includedB.filter((a) => a.validatorIndex === v).map((a) => a.slot))}..`).join('; ')}\n`,
  );

  const recordsAFinal = clientLog(logDir, firstUid);
  const recordsB = clientLog(logDir, uidB);
  const idsA = new Set(signatureIds(recordsAFinal));
  const idsB = signatureIds(recordsB);
  assert.equal(idsB.filter((id) => idsA.has(id)), [], 'no (validator, slot) signed by both pods\' clients');
  const lastSignedByA = Math.max(0, ...signedDuties(recordsAFinal).filter((d) => POOL_VALIDATORS.includes(d.validatorIndex)).map((d) => d.at), ...publishedBlocks(recordsAFinal).filter((b) => pool.pubkeys.includes(b.pubkey)).map((b) => b.at));
  assert.ok(lastSignedByA < firstReleasedAt, 'the old client had nothing signed once the keys were handed back');
  // Every pool attestation on chain since the first pod started was signed by exactly one of the two clients.
  const idsBSet = new Set(idsB);
  const onChain = chain.attestations.filter((a) => POOL_VALIDATORS.includes(a.validatorIndex) && a.slot >= slotAt(Date.parse(first.status.startTime)));
  for (const a of onChain) {
    const id = `attestation ${a.validatorIndex}@${a.slot}`;
    assert.is([idsA.has(id), idsBSet.has(id)].filter(Boolean).length, 1, `the attestation of ${a.validatorIndex}@${a.slot} on chain was signed by exactly one pod`);
  }
  assert.equal(signingFailures(recordsB, replacementReadyAt, Date.now()), [], 'none by the replacement\'s client since it was ready');
  assert.equal(signingFailures(recordsAFinal, 0, deletedAt), [], 'none by the old client before the delete');

  // Blocks: every block the pool's validators proposed since the first pod started was signed through one pod's agent.
  const byPubkey = new Map(pool.pubkeys.map((k, i) => [k, POOL_VALIDATORS[i]!]));
  const published = new Set([...publishedBlocks(recordsAFinal), ...publishedBlocks(recordsB)].filter((b) => byPubkey.has(b.pubkey)).map((b) => `${byPubkey.get(b.pubkey)}@${b.slot}`));
  const poolBlocks = [...chain.proposers].filter(([slot, proposer]) => POOL_VALIDATORS.includes(proposer) && slot >= slotAt(Date.parse(first.status.startTime)));
  assert.ok(poolBlocks.length > 0, 'the pool\'s validators proposed blocks (full Altair blocks: their sync aggregate is minimal-sized)');
  for (const [slot, proposer] of poolBlocks) assert.ok(published.has(`${proposer}@${slot}`), `the block of slot ${slot} (validator ${proposer}) was signed through a pod's agent`);
  process.stdout.write(
    `measured: real Lodestar through keylease: ${idsA.size} signatures by the first pod, ${idsB.length} by the replacement, 0 by both; ` +
      `${onChain.length} pool attestations and ${poolBlocks.length} pool blocks on chain (head read through slot ${chain.readThrough})\n`,
  );
});

test.run();
