import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkTlsMaterial } from '../../shared/tls/tls-material.js';
import { TlsMaterialError } from '../../shared/tls/errors.js';
import { createTestCa, type TestCa } from '../support/certs.js';
import { tempDir } from '../support/temp-dir.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let ca: TestCa;
let pair: { certFile: string; keyFile: string };
let other: { certFile: string; keyFile: string };

test.before(async () => {
  dir = await tempDir('tls-material');
  ca = createTestCa(dir.path);
  pair = ca.issue('r1');
  other = ca.issue('r2');
});
test.after(async () => dir.cleanup());

const files = () => ({ caFile: ca.caFile, certFile: pair.certFile, keyFile: pair.keyFile });
const read = (path: string) => readFileSync(path);

function refusal(run: () => unknown): TlsMaterialError {
  try {
    run();
  } catch (error) {
    assert.instance(error, TlsMaterialError);
    return error as TlsMaterialError;
  }
  assert.unreachable('the material was accepted');
  throw new Error('unreachable');
}

test('a matching pair and CA pass, with the expiry and the fingerprint openssl gives', () => {
  const material = checkTlsMaterial(files(), { caPem: read(ca.caFile), certPem: read(pair.certFile), keyPem: read(pair.keyFile) }, Date.now());
  const printed = execFileSync('openssl', ['x509', '-in', pair.certFile, '-noout', '-fingerprint', '-sha256', '-enddate'], { encoding: 'utf8' });
  assert.is(material.certFingerprint, /Fingerprint=([0-9A-F:]+)/.exec(printed)![1]);
  assert.is(material.certNotAfterMs, Date.parse(/notAfter=(.+)/.exec(printed)![1]!));
  assert.ok(material.certPem!.equals(read(pair.certFile)));
});

test('a certificate beside another certificate\'s key is refused, naming both files and quoting neither', () => {
  const error = refusal(() => checkTlsMaterial(files(), { caPem: read(ca.caFile), certPem: read(pair.certFile), keyPem: read(other.keyFile) }, Date.now()));
  assert.match(error.message, pair.certFile);
  assert.match(error.message, pair.keyFile);
  assert.not.match(error.message, 'BEGIN');
});

test('an expired certificate is refused, saying when it expired', () => {
  const threeDaysOn = Date.now() + 3 * 86_400_000;
  const error = refusal(() => checkTlsMaterial(files(), { caPem: read(ca.caFile), certPem: read(pair.certFile), keyPem: read(pair.keyFile) }, threeDaysOn));
  assert.match(error.message, /expired at \d{4}-\d\d-\d\dT/);
});

test('half-written or missing parts are refused: a truncated CA, a key that is not PEM, a certificate without its key', () => {
  const caPem = read(ca.caFile);
  assert.match(refusal(() => checkTlsMaterial(files(), { caPem: caPem.subarray(0, 40), certPem: read(pair.certFile), keyPem: read(pair.keyFile) }, Date.now())).message, ca.caFile);
  assert.match(refusal(() => checkTlsMaterial(files(), { caPem, certPem: read(pair.certFile), keyPem: Buffer.from('not a key') }, Date.now())).message, pair.keyFile);
  assert.match(refusal(() => checkTlsMaterial(files(), { caPem, certPem: read(pair.certFile), keyPem: null }, Date.now())).message, /give both files or neither/);
});

test('a CA alone (an agent\'s trust bundle) passes with no certificate details', () => {
  const material = checkTlsMaterial({ caFile: ca.caFile, certFile: null, keyFile: null }, { caPem: read(ca.caFile), certPem: null, keyPem: null }, Date.now());
  assert.is(material.certNotAfterMs, null);
  assert.is(material.certFingerprint, null);
});

test.run();
