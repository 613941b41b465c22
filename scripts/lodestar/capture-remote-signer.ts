/**
 * Records what Lodestar 1.5.1's validator client sends to a remote signer and writes one fixture per
 * message type and fork to test/fixtures/remote-signer/lodestar-1.5.1/<TYPE>[-<fork>].json.
 * Runs a dev chain (minimal preset, 2 s slots) through phase0, Altair (epoch 1), Bellatrix (2) and
 * Capella (3), with --builder so validator registrations are signed too. The client's own CLI signs
 * voluntary exits only with local keys, so VOLUNTARY_EXIT is sent by Lodestar's own request function
 * (externalSignerPostSignature, the one its validator store calls) from the installed package.
 * Usage: npx tsx scripts/lodestar/capture-remote-signer.ts   (after bash scripts/lodestar/install.sh)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { interopPubkey, interopSign } from '../../test/support/interop-keys.js';
import { lodestarBinary, LODESTAR_MISSING, startBeaconNode, startValidatorClient, SLOTS_PER_EPOCH, type ChainParams } from '../../test/support/lodestar.js';
import { RecordingSigner, type RecordedRequest } from '../../test/support/recording-signer.js';
import { tempDir } from '../../test/support/temp-dir.js';

const OUT = fileURLToPath(new URL('../../test/fixtures/remote-signer/lodestar-1.5.1/', import.meta.url));
const VALIDATORS = 8;
const PARAMS: ChainParams = { secondsPerSlot: 2, altairForkEpoch: 1, bellatrixForkEpoch: 2, capellaForkEpoch: 3 };
const FORKS = ['phase0', 'altair', 'bellatrix', 'capella'] as const;
const DUTY_TYPES = ['BLOCK_V2', 'RANDAO_REVEAL', 'ATTESTATION', 'AGGREGATION_SLOT', 'AGGREGATE_AND_PROOF'];
const SYNC_TYPES = ['SYNC_COMMITTEE_MESSAGE', 'SYNC_COMMITTEE_SELECTION_PROOF', 'SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF'];
/** Headers that say nothing about the client's protocol. */
const UNINTERESTING_HEADERS = new Set(['host', 'content-length']);

function forkAt(epoch: number): (typeof FORKS)[number] {
  if (epoch >= PARAMS.capellaForkEpoch!) return 'capella';
  if (epoch >= PARAMS.bellatrixForkEpoch!) return 'bellatrix';
  if (epoch >= PARAMS.altairForkEpoch!) return 'altair';
  return 'phase0';
}

/** The fixture's name: the message type, and the fork its fork_info names when it carries one. */
function fixtureName(request: RecordedRequest): string {
  const type = request.body?.type ?? 'UNKNOWN';
  const epoch = request.body?.fork_info?.fork.epoch;
  return epoch === undefined ? type : `${type}-${forkAt(Number(epoch))}`;
}

const wanted = [
  ...FORKS.flatMap((fork) => [...DUTY_TYPES, ...(fork === 'phase0' ? [] : SYNC_TYPES)].map((type) => `${type}-${fork}`)),
  'VALIDATOR_REGISTRATION',
];

const binary = lodestarBinary();
if (!binary) throw new Error(LODESTAR_MISSING);
const dir = await tempDir('capture');
const signer = await RecordingSigner.start({ validatorIndices: Array.from({ length: VALIDATORS }, (_, i) => i) });
const pubkeys = Array.from({ length: VALIDATORS }, (_, i) => interopPubkey(i));
const beacon = await startBeaconNode({ dir: dir.path, validatorCount: VALIDATORS, params: PARAMS });
const client = await startValidatorClient({ dir: join(dir.path, 'vc'), beaconNode: beacon, externalSigner: { url: signer.url, pubkeys }, builder: true });
const version = String(client.process.records.find((r) => r.message === 'Lodestar')?.context?.['version'] ?? '1.5.1');
try {
  const seen = new Map<string, RecordedRequest>();
  const deadline = Date.now() + (PARAMS.capellaForkEpoch! + 2) * SLOTS_PER_EPOCH * PARAMS.secondsPerSlot * 1000 + 30_000;
  while (wanted.some((name) => !seen.has(name)) && Date.now() < deadline) {
    const next = await signer.waitFor((r) => r.status === 200 && r.method === 'POST' && !seen.has(fixtureName(r)), deadline - Date.now(), 'a new message type');
    seen.set(fixtureName(next), next);
    process.stderr.write(`captured ${fixtureName(next)} after ${Math.round(Date.now() / 1000 - beacon.genesisTime)} s\n`);
  }

  seen.set('VOLUNTARY_EXIT-capella', await sendVoluntaryExit(beacon.restUrl, signer));

  const spec = ((await (await fetch(`${beacon.restUrl}/eth/v1/config/spec`)).json()) as { data: Record<string, string> }).data;
  const genesis = ((await (await fetch(`${beacon.restUrl}/eth/v1/beacon/genesis`)).json()) as { data: Record<string, string> }).data;
  await mkdir(OUT, { recursive: true });
  for (const [name, request] of [...seen].sort(([a], [b]) => a.localeCompare(b))) {
    const validatorIndex = pubkeys.indexOf(request.path.split('/').pop()!.toLowerCase());
    const fixture = {
      client: `Lodestar ${version}`,
      source: name.startsWith('VOLUNTARY_EXIT')
        ? "Lodestar's externalSignerPostSignature from @lodestar/validator 1.5.1 (the CLI's voluntary-exit refuses remote keys)"
        : 'lodestar validator 1.5.1 on a lodestar dev chain, recorded as received',
      type: request.body?.type,
      fork: request.body?.fork_info ? forkAt(Number(request.body.fork_info.fork.epoch)) : null,
      chain: {
        preset: 'minimal',
        secondsPerSlot: PARAMS.secondsPerSlot,
        genesisValidatorsRoot: genesis['genesis_validators_root'],
        forkVersions: { phase0: spec['GENESIS_FORK_VERSION'], altair: spec['ALTAIR_FORK_VERSION'], bellatrix: spec['BELLATRIX_FORK_VERSION'], capella: spec['CAPELLA_FORK_VERSION'] },
        forkEpochs: { altair: PARAMS.altairForkEpoch, bellatrix: PARAMS.bellatrixForkEpoch, capella: PARAMS.capellaForkEpoch },
      },
      validatorIndex,
      pubkey: pubkeys[validatorIndex],
      request: {
        method: request.method,
        path: request.path,
        headers: Object.fromEntries(Object.entries(request.headers).filter(([k]) => !UNINTERESTING_HEADERS.has(k))),
        body: request.body,
      },
      // Interop key `validatorIndex` over the request's signingRoot.
      expectedSignature: interopSign(validatorIndex, Buffer.from(request.body!.signingRoot!.slice(2), 'hex')),
      response: { status: 200, headers: { 'content-type': 'application/json' }, body: { signature: request.signature } },
    };
    await writeFile(join(OUT, `${name}.json`), JSON.stringify(fixture, null, 2) + '\n');
  }
  const missing = wanted.filter((name) => !seen.has(name));
  process.stderr.write(`wrote ${seen.size} fixtures to ${OUT}${missing.length ? `; never sent: ${missing.join(', ')}` : ''}\n`);
} finally {
  await client.stop();
  await beacon.stop();
  await signer.close();
  await dir.cleanup();
}

/**
 * A voluntary exit for validator 0 at the current epoch, sent by Lodestar's own code: the validator store
 * builds the message and root this way (signVoluntaryExit) and posts it with externalSignerPostSignature.
 */
async function sendVoluntaryExit(restUrl: string, recorder: RecordingSigner): Promise<RecordedRequest> {
  // node_modules/.bin/lodestar → node_modules; @lodestar/params reads the preset when first imported.
  const modules = dirname(dirname(binary!));
  process.env['LODESTAR_PRESET'] = 'minimal';
  const load = (path: string) => import(pathToFileURL(join(modules, path)).href);
  const [{ externalSignerPostSignature, SignableMessageType }, { createIBeaconConfig, createIChainForkConfig }, { chainConfig }, { computeSigningRoot, computeStartSlotAtEpoch }, { ssz }, { DOMAIN_VOLUNTARY_EXIT }] =
    await Promise.all([
      load('@lodestar/validator/lib/util/externalSignerClient.js'),
      load('@lodestar/config/lib/index.js'),
      load('@lodestar/config/lib/chainConfig/presets/minimal.js').then((m) => ({ chainConfig: m.chainConfig })),
      load('@lodestar/state-transition/lib/index.js'),
      load('@lodestar/types/lib/index.js'),
      load('@lodestar/params/lib/index.js'),
    ]);
  const genesis = ((await (await fetch(`${restUrl}/eth/v1/beacon/genesis`)).json()) as { data: { genesis_validators_root: string; genesis_time: string } }).data;
  const config = createIBeaconConfig(
    createIChainForkConfig({ ...chainConfig, SECONDS_PER_SLOT: PARAMS.secondsPerSlot, ALTAIR_FORK_EPOCH: PARAMS.altairForkEpoch, BELLATRIX_FORK_EPOCH: PARAMS.bellatrixForkEpoch, CAPELLA_FORK_EPOCH: PARAMS.capellaForkEpoch }),
    Buffer.from(genesis.genesis_validators_root.slice(2), 'hex'),
  );
  const exitEpoch = Math.floor((Date.now() / 1000 - Number(genesis.genesis_time)) / PARAMS.secondsPerSlot / SLOTS_PER_EPOCH);
  const signingSlot = computeStartSlotAtEpoch(exitEpoch);
  const voluntaryExit = { epoch: exitEpoch, validatorIndex: 0 };
  const signingRoot = computeSigningRoot(ssz.phase0.VoluntaryExit, voluntaryExit, config.getDomain(signingSlot, DOMAIN_VOLUNTARY_EXIT));
  const before = recorder.requests.length;
  await externalSignerPostSignature(config, recorder.url, pubkeys[0], signingRoot, signingSlot, { type: SignableMessageType.VOLUNTARY_EXIT, data: voluntaryExit });
  return recorder.waitFor((r) => recorder.requests.indexOf(r) >= before && r.body?.type === 'VOLUNTARY_EXIT', 5_000, 'the voluntary exit');
}
