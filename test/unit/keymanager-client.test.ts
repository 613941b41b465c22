import { test } from 'uvu';
import * as assert from 'uvu/assert';
import bls from '@chainsafe/bls';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { KeymanagerClient } from '../../agent/keymanager/client.js';
import { FenceFailedError, KeymanagerError } from '../../agent/keymanager/errors.js';
import { encryptKeystore } from '../../shared/eth/keystore.js';
import { emptyInterchange, serializeInterchange, SlashingProtectionError, watermarks, type Interchange } from '../../shared/eth/slashing-protection/index.js';
import { createTestCa } from '../support/certs.js';
import { tempDir } from '../support/temp-dir.js';
import { ValidatorClientStandin } from '../support/validator-client-standin.js';

interface TestKey {
  readonly pubkey: string;
  readonly keystore: string;
  readonly password: string;
}

// Three real EIP-2335 keystores (PBKDF2), made once: the stand-in really decrypts them.
const KEYS: TestKey[] = await Promise.all(
  [0, 1, 2].map(async (i) => {
    const secretKey = bls.SecretKey.fromKeygen();
    const pubkeyBytes = secretKey.toPublicKey().toBytes();
    const password = `correct horse battery ${i}`;
    const keystore = await encryptKeystore(password, secretKey.toBytes(), pubkeyBytes, `m/12381/3600/${i}/0/0`);
    return { pubkey: '0x' + Buffer.from(pubkeyBytes).toString('hex'), keystore: JSON.stringify(keystore), password };
  }),
);
const [A, B, C] = KEYS as [TestKey, TestKey, TestKey];
/** A genesis_validators_root that is not the stand-in's. */
const OTHER_ROOT = '0x' + '42'.repeat(32);

function clientFor(standin: ValidatorClientStandin, overrides: { token?: string; timeoutMs?: number } = {}): KeymanagerClient {
  return new KeymanagerClient({ baseUrl: standin.baseUrl, token: overrides.token ?? standin.token, timeoutMs: overrides.timeoutMs ?? 5000 });
}

function historyOf(standin: ValidatorClientStandin, entries: Array<{ pubkey: string; slot?: bigint; source?: bigint; target?: bigint }>): string {
  const interchange: Interchange = {
    ...emptyInterchange(standin.genesisValidatorsRoot),
    data: entries.map((entry) => ({
      pubkey: entry.pubkey,
      signedBlocks: entry.slot === undefined ? [] : [{ slot: entry.slot }],
      signedAttestations: entry.source === undefined || entry.target === undefined ? [] : [{ sourceEpoch: entry.source, targetEpoch: entry.target }],
    })),
  };
  return serializeInterchange(interchange);
}

async function rejection<E extends Error>(promise: Promise<unknown>, type: new (...args: any[]) => E): Promise<E> {
  try {
    await promise;
  } catch (error) {
    assert.instance(error, type);
    return error as E;
  }
  throw new Error(`expected a ${type.name}, the call succeeded`);
}

function assertNoSecrets(text: string, ...keys: TestKey[]): void {
  for (const key of keys) {
    assert.not.ok(text.includes(key.password), 'a password leaked into an error');
    assert.not.ok(text.includes(key.keystore), 'a keystore leaked into an error');
  }
}

async function withStandin(run: (standin: ValidatorClientStandin) => Promise<void>): Promise<void> {
  const standin = await ValidatorClientStandin.start();
  try {
    await run(standin);
  } finally {
    await standin.close();
  }
}

test('import, list and verify: the keys are imported, listed in lowercase with their paths, and held exactly', () =>
  withStandin(async (standin) => {
    const client = clientFor(standin);
    assert.equal(await client.listKeystores(), []);
    const results = await client.importKeystores({ keystores: [A.keystore, B.keystore], passwords: [A.password, B.password] });
    assert.equal(results, [{ status: 'imported' }, { status: 'imported' }]);
    const listed = await client.listKeystores();
    assert.equal(listed.map((key) => key.validatingPubkey).sort(), [A.pubkey, B.pubkey].sort());
    assert.equal(listed.find((key) => key.validatingPubkey === A.pubkey)?.derivationPath, 'm/12381/3600/0/0/0');
    assert.equal(await client.verifyHeldExactly([A.pubkey.toUpperCase().replace('0X', '0x'), B.pubkey]), { exact: true, missing: [], unexpected: [] });
  }),
);

test('verifyHeldExactly names the missing and the unexpected keys', () =>
  withStandin(async (standin) => {
    const client = clientFor(standin);
    await client.importKeystores({ keystores: [A.keystore, B.keystore], passwords: [A.password, B.password] });
    assert.equal(await client.verifyHeldExactly([A.pubkey, C.pubkey]), { exact: false, missing: [C.pubkey], unexpected: [B.pubkey] });
  }),
);

test('per-key statuses: a wrong password is an error that does not repeat it, a held key a duplicate', () =>
  withStandin(async (standin) => {
    const client = clientFor(standin);
    await client.importKeystores({ keystores: [A.keystore], passwords: [A.password] });
    const results = await client.importKeystores({ keystores: [A.keystore, B.keystore, C.keystore, C.keystore], passwords: [A.password, C.password, C.password, C.password] });
    assert.equal(results.map((result) => result.status), ['duplicate', 'error', 'imported', 'duplicate']);
    assert.match(results[1]!.message ?? '', /does not decrypt/);
    assertNoSecrets(JSON.stringify(results), A, B, C);
    assert.equal(standin.heldPubkeys(), [A.pubkey, C.pubkey].sort());
  }),
);

test('one password per keystore is required before anything is sent', () =>
  withStandin(async (standin) => {
    const error = await rejection(clientFor(standin).importKeystores({ keystores: [A.keystore, B.keystore], passwords: [A.password] }), KeymanagerError);
    assert.is(error.code, 'KEYMANAGER_REQUEST');
    assert.match(error.message, /2 keystores but 1 passwords/);
    assert.equal(standin.requests, []);
  }),
);

test('the slashing protection sent with an import reaches the client, which then refuses slashable duties', () =>
  withStandin(async (standin) => {
    const history = historyOf(standin, [{ pubkey: A.pubkey, slot: 100n, source: 10n, target: 11n }]);
    await clientFor(standin).importKeystores({ keystores: [A.keystore], passwords: [A.password], slashingProtection: history });
    assert.equal(standin.importedInterchanges, [history]);
    assert.not.ok(standin.sign(A.pubkey, { blockSlot: 100 }), 'block at the imported slot');
    assert.not.ok(standin.sign(A.pubkey, { sourceEpoch: 10, targetEpoch: 11 }), 'attestation at the imported target');
    assert.ok(standin.sign(A.pubkey, { blockSlot: 101, sourceEpoch: 10, targetEpoch: 12 }));
  }),
);

test('a malformed interchange is refused by field before it is sent', () =>
  withStandin(async (standin) => {
    const bad = historyOf(standin, [{ pubkey: A.pubkey, slot: 1n }]).replace('"slot":"1"', '"slot":1');
    const error = await rejection(clientFor(standin).importKeystores({ keystores: [A.keystore], passwords: [A.password], slashingProtection: bad }), SlashingProtectionError);
    assert.match(error.message, /data\[0\]\.signed_blocks\[0\]\.slot must be a decimal string/);
    assert.equal(standin.requests, []);
  }),
);

test('an interchange of another chain: 400 as the spec says, 500 as some clients answer, each with advice and no secrets', () =>
  withStandin(async (standin) => {
    const otherChain = serializeInterchange(emptyInterchange(OTHER_ROOT));
    const request = { keystores: [A.keystore], passwords: [A.password], slashingProtection: otherChain };
    const spec = await rejection(clientFor(standin).importKeystores(request), KeymanagerError);
    assert.is(spec.httpStatus, 400);
    assert.is(spec.endpoint, 'POST /eth/v1/keystores');
    assert.match(spec.message, /answers 400 for slashing_protection it cannot import/);

    await standin.setFault({ mode: 'bad-interchange-500' });
    const deviant = await rejection(clientFor(standin).importKeystores(request), KeymanagerError);
    assert.is(deviant.code, 'KEYMANAGER_HTTP');
    assert.is(deviant.httpStatus, 500);
    assert.match(deviant.message, /genesis_validators_root/);
    assert.match(deviant.message, /validator clients answer 500 when they cannot import the slashing_protection/);
    assertNoSecrets(spec.message + deviant.message, A);
    assert.equal(standin.heldPubkeys(), [], 'nothing was imported');
  }),
);

test('no token is a 401 and a wrong token a 403, both explained without quoting the token', () =>
  withStandin(async (standin) => {
    const missing = await rejection(clientFor(standin, { token: '' }).listKeystores(), KeymanagerError);
    assert.is(missing.code, 'KEYMANAGER_AUTH');
    assert.is(missing.httpStatus, 401);
    assert.match(missing.message, /GET \/eth\/v1\/keystores .*found no bearer token \(401\).*--keymanager-token-file/);
    const wrongToken = 'f'.repeat(64);
    const wrong = await rejection(clientFor(standin, { token: wrongToken }).deleteKeystores([A.pubkey]), KeymanagerError);
    assert.is(wrong.httpStatus, 403);
    assert.match(wrong.message, /DELETE \/eth\/v1\/keystores .*refused the bearer token \(403\)/);
    assert.not.ok(wrong.message.includes(wrongToken) || wrong.message.includes(standin.token));
  }),
);

test('the token file the stand-in writes is what a client needs', async () => {
  const dir = await tempDir('keymanager-token');
  try {
    await withStandin(async (standin) => {
      const file = join(dir.path, 'api-token.txt');
      await standin.writeTokenFile(file);
      const token = (await readFile(file, 'utf8')).trim();
      assert.match(token, /^[0-9a-f]{64}$/, 'a hex token of 256 bits, as the spec asks');
      assert.equal(await clientFor(standin, { token }).listKeystores(), []);
    });
  } finally {
    await dir.cleanup();
  }
});

test('delete: per-key statuses in request order, and the slashing protection of deleted and inactive keys only', () =>
  withStandin(async (standin) => {
    const client = clientFor(standin);
    await client.importKeystores({ keystores: [A.keystore, B.keystore], passwords: [A.password, B.password] });
    assert.ok(standin.sign(A.pubkey, { blockSlot: 7, sourceEpoch: 1, targetEpoch: 2 }));
    const deletion = await client.deleteKeystores([A.pubkey, A.pubkey, C.pubkey]);
    assert.equal(deletion.results.map((result) => result.status), ['deleted', 'not_active', 'not_found']);
    assert.equal(JSON.parse(deletion.slashingProtection).data.map((record: { pubkey: string }) => record.pubkey), [A.pubkey]);
    assert.equal(standin.heldPubkeys(), [B.pubkey]);
    // The history outlives the key, so a repeated DELETE gets it again.
    const again = await client.deleteKeystores([A.pubkey]);
    assert.equal(again.results, [{ pubkey: A.pubkey, status: 'not_active' }]);
    assert.is(again.slashingProtection, deletion.slashingProtection);
  }),
);

test('fence: the keys stop signing and their latest history comes back for upload', () =>
  withStandin(async (standin) => {
    const client = clientFor(standin);
    const imported = historyOf(standin, [{ pubkey: A.pubkey, slot: 50n, source: 3n, target: 4n }]);
    await client.importKeystores({ keystores: [A.keystore, B.keystore], passwords: [A.password, B.password], slashingProtection: imported });
    assert.ok(standin.sign(A.pubkey, { blockSlot: 60, sourceEpoch: 4, targetEpoch: 5 }));
    assert.ok(standin.sign(B.pubkey, { blockSlot: 9 }));
    const fenced = await client.fence([A.pubkey]);
    assert.equal(fenced.results.map((result) => result.status), ['deleted']);
    assert.ok(fenced.slashingProtection);
    assert.equal(watermarks(fenced.slashingProtection!, A.pubkey), { maxBlockSlot: 60n, maxSourceEpoch: 4n, maxTargetEpoch: 5n });
    assert.equal(fenced.slashingProtection!.data.map((record) => record.pubkey), [A.pubkey]);
    assert.not.ok(standin.sign(A.pubkey, { blockSlot: 61 }), 'a fenced key cannot sign');
    assert.equal(standin.heldPubkeys(), [B.pubkey]);
  }),
);

test('fence fails when the client answers deleted but still lists the key, which can indeed still sign; the error carries what that DELETE exported', () =>
  withStandin(async (standin) => {
    const client = clientFor(standin);
    await client.importKeystores({ keystores: [A.keystore, B.keystore], passwords: [A.password, B.password] });
    assert.ok(standin.sign(A.pubkey, { blockSlot: 5, sourceEpoch: 1, targetEpoch: 2 }));
    assert.ok(standin.sign(B.pubkey, { blockSlot: 9 }));
    await standin.setFault({ mode: 'delete-says-deleted-but-keeps' });
    const error = await rejection(client.fence([A.pubkey, C.pubkey]), FenceFailedError);
    assert.is(error.code, 'KEYMANAGER_FENCE_FAILED');
    assert.equal(error.stillListed, [A.pubkey]);
    assert.equal(error.notDeleted, []);
    assert.match(error.message, new RegExp(`still lists ${A.pubkey} after DELETE answered deleted.*may still sign.*the agent keeps trying.*quarantined until removal is proven or the pod is gone`));
    assert.not.match(error.message, /stop it/);
    // History the agent must not drop: the key signed up to here, and may go on.
    assert.equal(error.slashingProtection?.data.map((record) => record.pubkey), [A.pubkey], 'only the requested, known key');
    assert.equal(watermarks(error.slashingProtection!, A.pubkey), { maxBlockSlot: 5n, maxSourceEpoch: 1n, maxTargetEpoch: 2n });
    assert.ok(standin.sign(A.pubkey, { blockSlot: 6 }), 'the danger the fence check guards against');
  }),
);

test('a client that keeps the key on the first DELETE and drops it on the second (Lodestar 1.5.1): the first fence fails, the second proves removal with the later history', () =>
  withStandin(async (standin) => {
    const client = clientFor(standin);
    await client.importKeystores({ keystores: [A.keystore, B.keystore], passwords: [A.password, B.password] });
    assert.ok(standin.sign(A.pubkey, { blockSlot: 5 }));
    await standin.setFault({ mode: 'first-delete-keeps' });
    const first = await rejection(client.fence([A.pubkey]), FenceFailedError);
    assert.equal(first.stillListed, [A.pubkey]);
    assert.is(watermarks(first.slashingProtection!, A.pubkey).maxBlockSlot, 5n);
    assert.ok(standin.sign(A.pubkey, { blockSlot: 6 }), 'still signing after its first "deleted"');
    const second = await client.fence([A.pubkey]);
    assert.equal(second.results.map((result) => result.status), ['deleted']);
    assert.is(watermarks(second.slashingProtection!, A.pubkey).maxBlockSlot, 6n, 'the signature made between the two DELETEs is in the second export');
    assert.equal(standin.heldPubkeys(), [B.pubkey]);
    assert.not.ok(standin.sign(A.pubkey, { blockSlot: 7 }), 'gone for good');
    assert.equal(standin.requests.filter((r) => r.method === 'DELETE').length, 2);
  }),
);

test('a slow client: the call fails at its deadline, naming the endpoint', () =>
  withStandin(async (standin) => {
    await standin.setFault({ mode: 'slow', delayMs: 2000 });
    const started = performance.now();
    const error = await rejection(clientFor(standin, { timeoutMs: 150 }).listKeystores(), KeymanagerError);
    const elapsedMs = performance.now() - started;
    assert.is(error.code, 'KEYMANAGER_TIMEOUT');
    assert.match(error.message, /GET \/eth\/v1\/keystores at http:\/\/127\.0\.0\.1:\d+\/eth\/v1\/keystores did not answer within 150 ms/);
    assert.ok(elapsedMs < 1500, `gave up after ${elapsedMs} ms`);
  }),
);

test('a client that is down is unreachable, and reachable again once it is back', () =>
  withStandin(async (standin) => {
    const client = clientFor(standin);
    await standin.setFault({ mode: 'down' });
    const error = await rejection(client.listKeystores(), KeymanagerError);
    assert.is(error.code, 'KEYMANAGER_UNREACHABLE');
    assert.is(error.httpStatus, null);
    assert.match(error.message, /ECONNREFUSED.*--keymanager-url/);
    await standin.setFault(null);
    assert.equal(await client.listKeystores(), []);
  }),
);

test('the stand-in answers malformed requests with 400, unknown paths with 404, each with an ErrorResponse', () =>
  withStandin(async (standin) => {
    const call = async (method: string, path: string, body?: string) => {
      const response = await fetch(standin.baseUrl + path, { method, headers: { authorization: `Bearer ${standin.token}` }, ...(body === undefined ? {} : { body }) });
      return { status: response.status, body: (await response.json()) as { message?: unknown } };
    };
    const cases: Array<[string, string, string | undefined, number]> = [
      ['POST', '/eth/v1/keystores', 'not json', 400],
      ['POST', '/eth/v1/keystores', JSON.stringify({ keystores: [A.keystore], passwords: [] }), 400],
      ['POST', '/eth/v1/keystores', JSON.stringify({ keystores: [A.keystore], passwords: [A.password], slashing_protection: null }), 400],
      ['DELETE', '/eth/v1/keystores', JSON.stringify({ pubkeys: ['0x1234'] }), 400],
      ['DELETE', '/eth/v1/keystores', JSON.stringify({}), 400],
      ['GET', '/eth/v1/remotekeys', undefined, 404],
    ];
    for (const [method, path, body, status] of cases) {
      const answer = await call(method, path, body);
      assert.is(answer.status, status, `${method} ${path} ${body}`);
      assert.type(answer.body.message, 'string');
    }
    assert.equal(standin.heldPubkeys(), []);
  }),
);

/**
 * Not the stand-in: a server that answers each request with the next canned answer, for the mistakes real
 * clients have made. It records what it was sent.
 */
async function withCannedServer(answers: Array<{ status?: number; body: unknown }>, run: (client: KeymanagerClient, received: unknown[]) => Promise<void>): Promise<void> {
  const received: unknown[] = [];
  const server = createServer(async (request, response) => {
    let text = '';
    for await (const chunk of request) text += chunk;
    received.push(text ? JSON.parse(text) : null);
    const answer = answers.shift() ?? { status: 500, body: { message: 'no canned answer left' } };
    response.writeHead(answer.status ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run(new KeymanagerClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, token: 't', timeoutMs: 5000 }), received);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('a 200 that does not follow the schema is refused, naming what is wrong', () =>
  withCannedServer(
    [
      { body: { data: [{ status: 'deleted' }], slashingProtection: '{}' } }, // Lodestar's old field name
      { body: { data: [], slashing_protection: '{}' } },
      { body: { data: [{ status: 'gone' }], slashing_protection: '{}' } },
    ],
    async (client) => {
      for (const expected of [/slashing_protection is missing/, /it has 0 statuses for 1 keys/, /data\[0\]\.status "gone" is not one of deleted, not_active, not_found, error/]) {
        const error = await rejection(client.deleteKeystores([A.pubkey]), KeymanagerError);
        assert.is(error.code, 'KEYMANAGER_RESPONSE');
        assert.match(error.message, expected);
      }
    },
  ));

test('a client that echoes the request back: passwords and keystores are scrubbed from errors and statuses', () => {
  const echo = `could not import ${A.keystore} with password ${A.password}`;
  return withCannedServer([{ status: 500, body: { message: echo } }, { body: { data: [{ status: 'error', message: echo }] } }], async (client, received) => {
    const request = { keystores: [A.keystore], passwords: [A.password] };
    const error = await rejection(client.importKeystores(request), KeymanagerError);
    assert.match(error.message, /could not import \[redacted\] with password \[redacted\]/);
    const [result] = await client.importKeystores(request);
    assert.is(result!.message, 'could not import [redacted] with password [redacted]');
    assertNoSecrets(error.message + result!.message, A);
    assert.equal(received[0], { keystores: [A.keystore], passwords: [A.password] }, 'the request itself is sent as the spec says');
  });
});

/** An interchange on `root` where each of `pubkeys` signed a block at `slot`. */
function historyFor(root: string, pubkeys: string[], slot: bigint): string {
  return serializeInterchange({ ...emptyInterchange(root), data: pubkeys.map((pubkey) => ({ pubkey, signedBlocks: [{ slot }], signedAttestations: [] })) });
}

test('fence keeps only the history of the fenced keys, and reports unreadable history without failing the fence', () => {
  const history = (pubkeys: string[]) => historyFor(OTHER_ROOT, pubkeys, 5n);
  return withCannedServer(
    [
      // The spec forbids history of keys outside the request; a client sending it anyway must not
      // make us upload history for a key this pod does not hold.
      { body: { data: [{ status: 'deleted' }], slashing_protection: history([A.pubkey, B.pubkey]) } },
      { body: { data: [] } },
      { body: { data: [{ status: 'deleted' }], slashing_protection: '{"metadata":{}}' } },
      { body: { data: [] } },
    ],
    async (client) => {
      const fenced = await client.fence([A.pubkey]);
      assert.equal(fenced.slashingProtection?.data.map((record) => record.pubkey), [A.pubkey]);
      const unreadable = await client.fence([A.pubkey]);
      assert.is(unreadable.slashingProtection, null);
      assert.match(unreadable.slashingProtectionProblem ?? '', /metadata\.interchange_format_version/);
    },
  );
});

test('fence fails when DELETE answers error for a key, quoting the reason and keeping the readable export; an unreadable export is null', () =>
  withCannedServer(
    [
      { body: { data: [{ status: 'error', message: 'keystore is read-only' }], slashing_protection: historyFor(OTHER_ROOT, [A.pubkey], 12n) } },
      { body: { data: [] } },
      { body: { data: [{ status: 'error', message: 'keystore is read-only' }], slashing_protection: '{"metadata":{}}' } },
      { body: { data: [] } },
    ],
    async (client) => {
      const error = await rejection(client.fence([A.pubkey]), FenceFailedError);
      assert.equal(error.notDeleted, [A.pubkey]);
      assert.equal(error.stillListed, []);
      assert.match(error.message, new RegExp(`DELETE answered error for ${A.pubkey} \\(keystore is read-only\\)`));
      assert.is(watermarks(error.slashingProtection!, A.pubkey).maxBlockSlot, 12n);
      const unreadable = await rejection(client.fence([A.pubkey]), FenceFailedError);
      assert.equal(unreadable.notDeleted, [A.pubkey]);
      assert.is(unreadable.slashingProtection, null);
    },
  ));

test('the stand-in refuses duties that are slashable against its history, and keys it does not hold', () =>
  withStandin(async (standin) => {
    const client = clientFor(standin);
    await client.importKeystores({ keystores: [A.keystore], passwords: [A.password] });
    assert.not.ok(standin.sign(B.pubkey, { blockSlot: 1 }), 'not held');
    assert.ok(standin.sign(A.pubkey, { blockSlot: 10, sourceEpoch: 5, targetEpoch: 6 }));
    assert.not.ok(standin.sign(A.pubkey, { blockSlot: 10 }), 'same slot');
    assert.not.ok(standin.sign(A.pubkey, { blockSlot: 9 }), 'lower slot');
    assert.not.ok(standin.sign(A.pubkey, { sourceEpoch: 4, targetEpoch: 7 }), 'surrounding: source below the highest');
    assert.not.ok(standin.sign(A.pubkey, { sourceEpoch: 5, targetEpoch: 6 }), 'same target');
    assert.not.ok(standin.sign(A.pubkey, { sourceEpoch: 8, targetEpoch: 7 }), 'source after target');
    assert.not.ok(standin.sign(A.pubkey, { blockSlot: 11, sourceEpoch: 5, targetEpoch: 6 }), 'a refused attestation refuses the whole duty');
    assert.ok(standin.sign(A.pubkey, { blockSlot: 11 }), 'the block alone was fine, and was not recorded before');
    assert.ok(standin.sign(A.pubkey, { sourceEpoch: 6, targetEpoch: 7 }));
    assert.ok(standin.sign(A.pubkey, { blockSlot: 2n ** 60n }), 'slots beyond 2^53');
    assert.not.ok(standin.sign(A.pubkey, { blockSlot: 2n ** 60n }));
  }),
);

test('an https Keymanager API with its own certificate: trusted through --keymanager-ca-file, refused without it with a pointer to that flag', async () => {
  const dir = await tempDir('keymanager-https');
  const ca = createTestCa(dir.path, 'teku');
  const serving = ca.issue('validator-client');
  const standin = await ValidatorClientStandin.start({ tls: { certPem: await readFile(serving.certFile), keyPem: await readFile(serving.keyFile) } });
  try {
    assert.ok(standin.baseUrl.startsWith('https://'));
    const trusting = new KeymanagerClient({ baseUrl: standin.baseUrl, token: standin.token, timeoutMs: 5000, caFile: ca.caFile });
    const imported = await trusting.importKeystores({ keystores: [A.keystore], passwords: [A.password] });
    assert.equal(imported.map((s) => s.status), ['imported']);
    assert.equal((await trusting.listKeystores()).map((k) => k.validatingPubkey), [A.pubkey]);

    const untrusting = new KeymanagerClient({ baseUrl: standin.baseUrl, token: standin.token, timeoutMs: 5000 });
    const refused = await rejection(untrusting.listKeystores(), KeymanagerError);
    assert.is(refused.code, 'KEYMANAGER_TLS');
    assert.match(refused.message, '--keymanager-ca-file');
    const missing = await rejection(new KeymanagerClient({ baseUrl: standin.baseUrl, token: standin.token, timeoutMs: 5000, caFile: join(dir.path, 'absent.pem') }).listKeystores(), KeymanagerError);
    assert.is(missing.code, 'KEYMANAGER_TLS');
    assert.match(missing.message, 'absent.pem');
  } finally {
    await standin.close();
    await dir.cleanup();
  }
});

test.run();
