import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAdmissionReview, reviewAdmission } from '../../coordinator/k8s/webhook/admission-review.js';
import { injectionOptions } from '../../coordinator/k8s/webhook/injection-options.js';
import { startWebhookServer, type WebhookServer } from '../../coordinator/k8s/webhook/server.js';
import { waitForReadyCommand } from '../../coordinator/k8s/webhook/startup-guard.js';
import { createLogger } from '../../shared/log/logger.js';
import { createTestCa } from '../support/certs.js';
import { tempDir } from '../support/temp-dir.js';

const OPTIONS = injectionOptions({ agentImage: 'keylease:test', coordinatorEndpoints: 'coordinator:7400' });
const V1_20 = { major: 1, minor: 20 };
const ANNOTATED = { 'keylease.io/inject': 'true', 'keylease.io/keys': '2', 'keylease.io/pool': 'mainnet' };

const review = (request: Record<string, unknown>) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'uid-1', ...request } });
const podCreate = (annotations: Record<string, string>) =>
  review({ kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: 'validators', object: { metadata: { name: 'teku-0', annotations }, spec: { containers: [{ name: 'teku' }] } } });

test('parseAdmissionReview refuses what is not an AdmissionReview v1', () => {
  assert.throws(() => parseAdmissionReview('{'), /not JSON/);
  assert.throws(() => parseAdmissionReview(JSON.stringify({ ...review({}), apiVersion: 'admission.k8s.io/v1beta1' })), /expected apiVersion admission\.k8s\.io\/v1/);
  assert.throws(() => parseAdmissionReview(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: {} })), /no request\.uid/);
  assert.is(parseAdmissionReview(JSON.stringify(review({}))).uid, 'uid-1');
});

test('an annotated pod is answered with a base64 JSONPatch under the request uid', () => {
  const { response } = reviewAdmission(parseAdmissionReview(JSON.stringify(podCreate(ANNOTATED))), V1_20, OPTIONS);
  assert.is(response.apiVersion, 'admission.k8s.io/v1');
  assert.is(response.kind, 'AdmissionReview');
  assert.is(response.response.uid, 'uid-1');
  assert.is(response.response.allowed, true);
  assert.is(response.response.patchType, 'JSONPatch');
  const patch = JSON.parse(Buffer.from(response.response.patch!, 'base64').toString('utf8')) as Array<{ op: string; path: string }>;
  assert.ok(patch.some((op) => op.path === '/spec/containers/0'));
});

test('a denial carries code 400 and the reason, naming the namespace the request gives', () => {
  const { response } = reviewAdmission(parseAdmissionReview(JSON.stringify(podCreate({ ...ANNOTATED, 'keylease.io/keys': '-3' }))), V1_20, OPTIONS);
  assert.is(response.response.allowed, false);
  assert.is(response.response.status?.code, 400);
  assert.match(response.response.status!.message, /pod validators\/teku-0: keylease\.io\/keys is "-3"; it must be a whole number from 1 to 64/);
  assert.is(response.response.patch, undefined);
});

test('untouched pods and anything but a pod creation are allowed without a patch', () => {
  const cases = [
    podCreate({}),
    review({ kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'UPDATE', object: { metadata: { annotations: ANNOTATED }, spec: { containers: [{ name: 'x' }] } } }),
    review({ kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, operation: 'CREATE', object: {} }),
    review({ kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'DELETE' }),
  ];
  for (const body of cases) {
    const { response } = reviewAdmission(parseAdmissionReview(JSON.stringify(body)), V1_20, OPTIONS);
    assert.equal(response.response, { uid: 'uid-1', allowed: true });
  }
});

async function withServer(run: (server: WebhookServer, caPem: Buffer, dir: string) => Promise<void>): Promise<void> {
  const dir = await tempDir('webhook');
  const ca = createTestCa(dir.path);
  const cert = ca.issue('webhook');
  const lines: string[] = [];
  const server = await startWebhookServer({
    host: '127.0.0.1',
    port: 0,
    certPem: readFileSync(cert.certFile),
    keyPem: readFileSync(cert.keyFile),
    options: OPTIONS,
    serverVersion: () => V1_20,
    logger: createLogger({ level: 'info', component: 'webhook', sink: (l) => lines.push(l) }),
  });
  try {
    await run(server, readFileSync(ca.caFile), dir.path);
  } finally {
    await server.close();
    await dir.cleanup();
  }
}

function call(port: number, ca: Buffer, method: string, path: string, body?: string | Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, ca, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('the HTTPS server answers AdmissionReviews on POST /mutate and health on GET /healthz', async () => {
  await withServer(async (server, ca) => {
    const answer = await call(server.port, ca, 'POST', '/mutate', JSON.stringify(podCreate(ANNOTATED)));
    assert.is(answer.status, 200);
    const parsed = JSON.parse(answer.body) as { response: { uid: string; allowed: boolean; patchType: string } };
    assert.equal([parsed.response.uid, parsed.response.allowed, parsed.response.patchType], ['uid-1', true, 'JSONPatch']);
    assert.equal(await call(server.port, ca, 'GET', '/healthz'), { status: 200, body: 'ok\n' });
    assert.is((await call(server.port, ca, 'GET', '/mutate')).status, 405);
    assert.is((await call(server.port, ca, 'POST', '/elsewhere', '{}')).status, 404);
    const bad = await call(server.port, ca, 'POST', '/mutate', 'not json');
    assert.is(bad.status, 400);
    assert.match(bad.body, /not JSON/);
    assert.is((await call(server.port, ca, 'POST', '/mutate', Buffer.alloc(5 * 1024 * 1024, 0x20))).status, 413);
  });
});

test('updateCertificate serves new connections with the new certificate', async () => {
  await withServer(async (server, oldCa, dir) => {
    const otherCa = createTestCa(dir, 'other-ca');
    const renewed = otherCa.issue('webhook-renewed');
    const newCa = readFileSync(otherCa.caFile);
    assert.is((await call(server.port, oldCa, 'GET', '/healthz')).status, 200);
    await call(server.port, newCa, 'GET', '/healthz').then(
      () => assert.unreachable('the new CA must not verify the old certificate'),
      (error: Error) => assert.match(error.message, /self.signed|unable to verify|certificate/i),
    );
    server.updateCertificate(readFileSync(renewed.certFile), readFileSync(renewed.keyFile));
    assert.is((await call(server.port, newCa, 'GET', '/healthz')).status, 200);
  });
});

const run = promisify(execFile);

test('the startup guard exits 0 once /readyz answers 200, after not-ready answers', async () => {
  let calls = 0;
  const agent = createHttpServer((req, res) => {
    calls++;
    res.writeHead(req.url === '/readyz' && calls >= 3 ? 200 : 503).end();
  });
  await new Promise<void>((r) => agent.listen(0, '127.0.0.1', r));
  try {
    const [node, ...args] = waitForReadyCommand((agent.address() as AddressInfo).port, 30);
    await run(node === 'node' ? process.execPath : node!, args, { timeout: 20_000 });
    assert.ok(calls >= 3, `polled ${calls} times`);
  } finally {
    agent.close();
  }
});

test('the startup guard fails (so the kubelet restarts the agent) when the agent is not ready in time', async () => {
  const closed = createHttpServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  closed.close();
  const [, ...args] = waitForReadyCommand(port, 1);
  const failure = await run(process.execPath, args, { timeout: 20_000 }).then(
    () => null,
    (error: { code?: number; stderr?: string }) => error,
  );
  assert.ok(failure, 'the guard must exit non-zero');
  assert.is(failure.code, 1);
  assert.match(failure.stderr ?? '', /not ready after 1 s/);
});

test.run();
