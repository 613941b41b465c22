/**
 * The `keylease webhook` command's core (webhookMain) as a process of its own: it reads the real API
 * server's version, serves AdmissionReviews over HTTPS, reloads its certificate when the mounted Secret
 * is swapped, stops on SIGTERM, and refuses bad configuration with exit code 2.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestCa } from '../support/certs.js';
import { freePorts } from '../support/ports.js';
import { tempDir } from '../support/temp-dir.js';
import { useCluster } from './support/cluster.js';
import type { ClusterConnection } from './support/local-cluster.js';
import { SecretVolume } from './support/secret-volume.js';
import { reported } from './support/reported.js';

const COMMAND = fileURLToPath(new URL('../../coordinator/k8s/webhook/command.ts', import.meta.url));

/** Runs webhookMain(args) the way cli/keylease.ts will once `webhook` is wired; never as if inside a pod. */
function startWebhook(args: string[]): { child: ChildProcess; output: string[]; exited: Promise<number | null> } {
  const script = `const { webhookMain } = await import(${JSON.stringify(COMMAND)}); await webhookMain(JSON.parse(process.env.WEBHOOK_ARGS));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, KUBERNETES_SERVICE_HOST: '', WEBHOOK_ARGS: JSON.stringify(args) }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (d) => output.push(...String(d).split('\n').filter(Boolean)));
  return { child, output, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

async function waitForLine(output: string[], pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = output.find((l) => pattern.test(l));
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no line matching ${pattern}; output:\n${output.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function post(port: number, ca: Buffer, body: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/mutate', ca, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const REVIEW = {
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'u-1',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    operation: 'CREATE',
    namespace: 'validators',
    object: { metadata: { name: 'nimbus-0', annotations: { 'keylease.io/inject': 'true', 'keylease.io/keys': '1', 'keylease.io/pool': 'default' } }, spec: { containers: [{ name: 'nimbus' }] } },
  },
};

let cluster: { connection: ClusterConnection; release(): Promise<void> };

test.before(reported(async () => {
  cluster = await useCluster();
}));

test.after(async () => {
  await cluster?.release();
});

test('serves injections for the real server version, reloads a swapped certificate, stops on SIGTERM', async () => {
  const dir = await tempDir('webhook-command');
  const firstCa = createTestCa(dir.path, 'first');
  const secondCa = createTestCa(dir.path, 'second');
  const first = firstCa.issue('webhook');
  const second = secondCa.issue('webhook');
  const volume = new SecretVolume(join(dir.path, 'webhook-tls'));
  mkdirSync(volume.dir);
  volume.publish({ 'tls.crt': readFileSync(first.certFile), 'tls.key': readFileSync(first.keyFile) });
  const [port] = (await freePorts(1)) as [number];
  const webhook = startWebhook([
    '--listen', `127.0.0.1:${port}`,
    '--tls-cert-file', join(volume.dir, 'tls.crt'),
    '--tls-key-file', join(volume.dir, 'tls.key'),
    '--agent-image', 'registry.example/keylease:0.1.0',
    '--coordinator', 'keylease-coordinator.keylease.svc:7400',
    '--kubeconfig', cluster.connection.kubeconfigFile,
  ]);
  try {
    assert.match(await waitForLine(webhook.output, /kubernetes API server version/), /"version":"1\.20"/);
    await waitForLine(webhook.output, /webhook listening/);
    const answer = await post(port, readFileSync(firstCa.caFile), REVIEW);
    assert.is(answer.status, 200);
    assert.is(answer.json.response.allowed, true);
    const patch = JSON.parse(Buffer.from(answer.json.response.patch, 'base64').toString()) as Array<{ path: string; value: unknown }>;
    assert.ok(patch.some((op) => op.path === '/spec/containers/0'), 'the regular-sidecar form, from the server\'s 1.20');
    assert.match(await waitForLine(webhook.output, /injected agent/), /"form":"sidecar-container"/);

    volume.publish({ 'tls.crt': readFileSync(second.certFile), 'tls.key': readFileSync(second.keyFile) });
    await waitForLine(webhook.output, /webhook certificate reloaded/);
    assert.is((await post(port, readFileSync(secondCa.caFile), REVIEW)).status, 200);

    webhook.child.kill('SIGTERM');
    assert.is(await webhook.exited, 0);
    assert.ok(webhook.output.some((l) => l.includes('shutting down')));
  } finally {
    webhook.child.kill('SIGKILL');
    await dir.cleanup();
  }
});

test('bad configuration exits with code 2 and says what to fix', async () => {
  const missing = startWebhook(['--tls-cert-file', 'x', '--tls-key-file', 'y', '--coordinator', 'c:7400']);
  assert.is(await missing.exited, 2);
  assert.match(missing.output.join('\n'), /--agent-image is required \(or set KEYLEASE_AGENT_IMAGE\)/);

  const dir = await tempDir('webhook-command');
  try {
    const kubeconfig = join(dir.path, 'kubeconfig');
    writeFileSync(kubeconfig, readFileSync(cluster.connection.kubeconfigFile, 'utf8').replace(/https:\/\/127\.0\.0\.1:\d+/, 'https://127.0.0.1:1'));
    const unreachable = startWebhook(['--tls-cert-file', 'x', '--tls-key-file', 'y', '--coordinator', 'c:7400', '--agent-image', 'k', '--kubeconfig', kubeconfig]);
    assert.is(await unreachable.exited, 2);
    assert.match(unreachable.output.join('\n'), /cannot read the Kubernetes API server's version from https:\/\/127\.0\.0\.1:1: check connectivity and credentials/);

    const outsideAPod = startWebhook(['--tls-cert-file', 'x', '--tls-key-file', 'y', '--coordinator', 'c:7400', '--agent-image', 'k']);
    assert.is(await outsideAPod.exited, 2);
    assert.match(outsideAPod.output.join('\n'), /not running in a Kubernetes pod \(KUBERNETES_SERVICE_HOST is not set\): give a kubeconfig file/);

    const badEndpoints = startWebhook(['--tls-cert-file', 'x', '--tls-key-file', 'y', '--coordinator', 'no-port', '--agent-image', 'k']);
    assert.is(await badEndpoints.exited, 2);
    assert.match(badEndpoints.output.join('\n'), /coordinator endpoints "no-port" are not HOST:PORT/);

    // A port another process holds is named, with the flag that moves the listener.
    const ca = createTestCa(dir.path, 'port');
    const certificate = ca.issue('webhook');
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const takenPort = (holder.address() as { port: number }).port;
    try {
      const taken = startWebhook(['--listen', `127.0.0.1:${takenPort}`, '--tls-cert-file', certificate.certFile, '--tls-key-file', certificate.keyFile, '--coordinator', 'c:7400', '--agent-image', 'k', '--kubeconfig', cluster.connection.kubeconfigFile]);
      assert.is(await taken.exited, 2);
      assert.match(taken.output.join('\n'), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${takenPort} \\(--listen\\): another process already listens on it \\(EADDRINUSE\\)\\. Stop what uses it, or move this listener with --listen HOST:PORT`));
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  } finally {
    await dir.cleanup();
  }
});

test.run();
