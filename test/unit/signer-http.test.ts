import bls from '@chainsafe/bls';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startRemoteSignerServer } from '../../agent/signer/http-server.js';
import { InAgentSigner } from '../../agent/signer/in-agent-signer.js';
import { createLogger } from '../../shared/log/logger.js';
import { interopSecretKey } from '../support/interop-keys.js';
import { attestationRequest, blockRequest, interopKey, manualClock, randaoRequest, TEST_CHAIN } from '../support/signer-requests.js';
import { tempDir } from '../support/temp-dir.js';

interface Running {
  url: string;
  signer: InAgentSigner;
  clock: ReturnType<typeof manualClock>;
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

const running: Running[] = [];
test.after(async () => {
  for (const server of running) await server.close();
});

async function start(options: { keys?: number[]; preset?: 'mainnet' | 'minimal'; maxBodyBytes?: number; refusalLogWindowMs?: number } = {}): Promise<Running> {
  const dir = await tempDir('signer-http');
  const clock = manualClock();
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'debug', component: 'signer', sink: (line) => logs.push(JSON.parse(line)) });
  const signer = new InAgentSigner({ clock, logger, stateDir: dir.path, ...TEST_CHAIN, preset: options.preset ?? 'minimal' });
  await signer.install((options.keys ?? [0, 1, 2, 3, 4, 5, 6, 7]).map((i) => interopKey(i)));
  signer.setDeadline(clock.nowMs + 1_000_000);
  const server = await startRemoteSignerServer(signer, '127.0.0.1', 0, logger, { clock, ...options });
  const handle = {
    url: `http://127.0.0.1:${server.port}`,
    signer,
    clock,
    logs,
    close: async () => {
      await server.close();
      await signer.close();
      await dir.cleanup();
    },
  };
  running.push(handle);
  return handle;
}

const K0 = interopKey(0).pubKey;

function post(server: Running, pubKey: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Response> {
  return fetch(`${server.url}/api/v1/eth2/sign/${pubKey}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

async function expectRefusal(response: Response, status: number, message: RegExp): Promise<void> {
  const text = await response.text();
  assert.is(response.status, status, text);
  assert.is(response.headers.get('content-type'), 'application/json');
  const body = JSON.parse(text) as { code: number; message: string };
  assert.is(body.code, status);
  assert.match(body.message, message);
}

const FIXTURES = fileURLToPath(new URL('../fixtures/remote-signer/lodestar-1.5.1/', import.meta.url));
const FORK_ORDER = ['phase0', 'altair', 'bellatrix', 'capella', null];

test("every request a real Lodestar 1.5.1 sent, replayed with its own headers in chain order, is answered 200 with the signature Lodestar got", async () => {
  const server = await start();
  const fixtures = readdirSync(FIXTURES)
    .map((name) => JSON.parse(readFileSync(FIXTURES + name, 'utf8')) as { fork: string | null; request: { path: string; headers: Record<string, string>; body: unknown }; expectedSignature: string })
    .sort((a, b) => FORK_ORDER.indexOf(a.fork) - FORK_ORDER.indexOf(b.fork));
  for (const fixture of fixtures) {
    const { connection: _connection, 'accept-encoding': _encoding, ...headers } = fixture.request.headers;
    const response = await fetch(server.url + fixture.request.path, { method: 'POST', headers, body: JSON.stringify(fixture.request.body) });
    const text = await response.text();
    assert.is(response.status, 200, text);
    assert.is(response.headers.get('content-type'), 'application/json');
    assert.equal(JSON.parse(text), { signature: fixture.expectedSignature });
  }
});

test('upcheck answers OK; publicKeys lists the held keys', async () => {
  const server = await start({ keys: [0, 3] });
  const upcheck = await fetch(`${server.url}/upcheck`);
  assert.is(upcheck.status, 200);
  assert.is(await upcheck.text(), 'OK');
  const keys = await fetch(`${server.url}/api/v1/eth2/publicKeys`);
  assert.is(keys.status, 200);
  assert.equal(await keys.json(), [K0, interopKey(3).pubKey]);
  await server.signer.removeAll();
  assert.equal(await (await fetch(`${server.url}/api/v1/eth2/publicKeys`)).json(), []);
});

test('the signature comes as JSON, or as text when the client asks for text/plain only, and verifies against the public key', async () => {
  const server = await start({ keys: [0] });
  const json = await post(server, K0, randaoRequest(3), { 'content-type': 'application/json', accept: 'application/json' });
  const { signature } = (await json.json()) as { signature: string };
  const text = await post(server, K0, randaoRequest(3), { 'content-type': 'application/json', accept: 'text/plain' });
  assert.is(text.headers.get('content-type'), 'text/plain');
  assert.is(await text.text(), signature);
  const noAccept = await post(server, K0, randaoRequest(3), { 'content-type': 'application/json', accept: '' });
  assert.equal(await noAccept.json(), { signature });
  // RANDAO_REVEAL signs hash_tree_root(epoch) under DOMAIN_RANDAO.
  const secret = bls.SecretKey.fromBytes(interopSecretKey(0));
  const expected = Buffer.from(secret.toPublicKey().toBytes());
  assert.ok(bls.verify(expected, (await rootOf(server, randaoRequest(3))), Buffer.from(signature.slice(2), 'hex')));
});

/** The root the signer signs, found by asking it with a wrong signingRoot (its 400 answer names it). */
async function rootOf(server: Running, body: Record<string, unknown>): Promise<Uint8Array> {
  const response = await post(server, K0, { ...body, signingRoot: '0x' + '00'.repeat(32) });
  const { message } = (await response.json()) as { message: string };
  return Buffer.from(/message \(0x([0-9a-f]{64})\)/.exec(message)![1]!, 'hex');
}

test('bad requests: unknown key 404, malformed 400 naming the field, root mismatch 400, slashable 412, after the deadline 503, too large 413', async () => {
  const server = await start({ keys: [0], maxBodyBytes: 4096 });
  await expectRefusal(await post(server, interopKey(9).pubKey, randaoRequest(1)), 404, /holds no key 0x/);
  await expectRefusal(await post(server, 'not-a-key', randaoRequest(1)), 404, /must be a BLS public key/);
  await expectRefusal(await post(server, '%E0%A4%A', randaoRequest(1)), 404, /must be a BLS public key/);
  await expectRefusal(await post(server, K0, '{"type": '), 400, /request body is not JSON/);
  await expectRefusal(await post(server, K0, { ...randaoRequest(1), type: 'SIGN_ANYTHING' }), 400, /type "SIGN_ANYTHING" is not a message type/);
  await expectRefusal(await post(server, K0, { ...randaoRequest(1), randao_reveal: { epoch: 1 } }), 400, /^randao_reveal\.epoch must be a decimal string \(uint64\), not the number 1$/);
  await expectRefusal(await post(server, K0, { ...blockRequest(5), signingRoot: '0x' + '00'.repeat(32) }), 400, /signingRoot 0x0{64} is not the root of its BLOCK_V2 message/);
  assert.is((await post(server, K0, blockRequest(5))).status, 200, 'the refused block changed nothing: the same slot signs');
  await expectRefusal(await post(server, K0, blockRequest(5, 'ef')), 412, /refused BLOCK_V2 .* by slashing protection: a block at slot 5/);
  await expectRefusal(await post(server, K0, { ...randaoRequest(1), padding: 'x'.repeat(5000) }), 413, /larger than 4096 bytes/);
  await expectRefusal(await fetch(`${server.url}/api/v1/eth2/sign/${K0}`), 405, /use POST/);
  await expectRefusal(await fetch(`${server.url}/api/v1/eth1/sign/${K0}`, { method: 'POST', body: '{}' }), 404, /not a path of the remote signing API/);
  server.clock.nowMs += 1_000_000;
  await expectRefusal(await post(server, K0, attestationRequest(1, 2)), 503, /fence deadline passed 0 ms ago/);
  server.signer.setDeadline(server.clock.nowMs + 1);
  assert.is((await post(server, K0, attestationRequest(1, 2))).status, 200, 'the fenced attestation changed nothing');
});

test('a request made for the other preset is refused with a hint to set the preset', async () => {
  const read = (name: string) => JSON.parse(readFileSync(FIXTURES + name, 'utf8')) as { pubkey: string; validatorIndex: number; request: { body: unknown } };
  const block = read('BLOCK_V2-altair.json');
  // Slots per epoch differ, so the fork version (and root) differs; the sync committee size too, so the block does not even parse.
  const selection = read('AGGREGATION_SLOT-altair.json');
  const server = await start({ keys: [block.validatorIndex, selection.validatorIndex], preset: 'mainnet' });
  await expectRefusal(await post(server, block.pubkey, block.request.body), 400, /sync_committee_bits has 4 bytes; exactly 64 are required; it fits the minimal preset, but the agent is set up for mainnet/);
  await expectRefusal(await post(server, selection.pubkey, selection.request.body), 400, /is not the root of its AGGREGATION_SLOT message .*; it fits the minimal preset, but the agent is set up for mainnet/);
});

test('each refusal cause is logged once, then at most once a window with its count, never with key material', async () => {
  const server = await start({ keys: [0], refusalLogWindowMs: 60_000 });
  await post(server, K0, blockRequest(10));
  for (let i = 0; i < 3; i += 1) await post(server, K0, blockRequest(10, 'cd'));
  await post(server, interopKey(9).pubKey, randaoRequest(1));
  const refusals = () => server.logs.filter((line) => line['msg'] === 'sign request refused');
  assert.equal(refusals().map((line) => [line['cause'], line['status'], line['refusalsOfThisCause']]), [
    ['SIGNER_SLASHABLE', 412, 1],
    ['SIGNER_UNKNOWN_KEY', 404, 1],
  ]);
  server.clock.nowMs += 60_000;
  await post(server, K0, blockRequest(9));
  const last = refusals().at(-1)!;
  assert.equal([last['cause'], last['refusalsOfThisCause'], last['notLoggedSinceLast'], last['type'], last['pubKey']], ['SIGNER_SLASHABLE', 4, 2, 'BLOCK_V2', K0]);
  const secretHex = Buffer.from(interopSecretKey(0)).toString('hex');
  assert.not.ok(server.logs.some((line) => JSON.stringify(line).includes(secretHex)));
});

test.run();
