/** Reading a kubeconfig (and a pod's ServiceAccount) into the connection keylease's own API client uses. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inClusterConnection, kubeconfigConnection, kubeconfigFileConnection } from '../../coordinator/k8s/api/kube-connection.js';
import { tempDir } from '../support/temp-dir.js';

const config = (cluster: object, user: object, extra: object = {}) =>
  JSON.stringify({ clusters: [{ name: 'c', cluster }], users: [{ name: 'u', user }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x', ...extra });

test('a token and inline CA data', () => {
  const connection = kubeconfigConnection(config({ server: 'https://127.0.0.1:6443/', 'certificate-authority-data': Buffer.from('CA PEM').toString('base64') }, { token: 'secret-token' }), 'k');
  assert.is(connection.server, 'https://127.0.0.1:6443');
  assert.is(connection.caPem?.toString(), 'CA PEM');
  assert.is(connection.token?.(), 'secret-token');
  assert.is(connection.clientCertPem, null);
});

test('files are read relative to the kubeconfig; a token file is re-read on every use', async () => {
  const dir = await tempDir('kubeconfig');
  try {
    await mkdir(join(dir.path, 'certs'));
    await writeFile(join(dir.path, 'certs/ca.pem'), 'CA');
    await writeFile(join(dir.path, 'certs/client.pem'), 'CERT');
    await writeFile(join(dir.path, 'certs/client.key'), 'KEY');
    await writeFile(join(dir.path, 'token'), 'first\n');
    const file = join(dir.path, 'kubeconfig');
    await writeFile(file, config({ server: 'https://k:443', 'certificate-authority': 'certs/ca.pem' }, { 'client-certificate': 'certs/client.pem', 'client-key': join(dir.path, 'certs/client.key'), tokenFile: 'token' }));
    const connection = kubeconfigFileConnection(file);
    assert.equal([connection.caPem?.toString(), connection.clientCertPem?.toString(), connection.clientKeyPem?.toString()], ['CA', 'CERT', 'KEY']);
    assert.is(connection.token?.(), 'first');
    await writeFile(join(dir.path, 'token'), 'rotated');
    assert.is(connection.token?.(), 'rotated');
  } finally {
    await dir.cleanup();
  }
});

test('what keylease cannot use is refused with the reason, and the token never appears in the message', () => {
  const refused = (text: string, pattern: RegExp) => assert.throws(() => kubeconfigConnection(text, 'k'), (e: unknown) => pattern.test((e as Error).message) && !(e as Error).message.includes('secret-token'));
  refused(config({ server: 'https://k' }, { exec: { command: 'aws' }, token: 'secret-token' }), /authenticates with exec, which keylease does not support/);
  refused(config({ server: 'https://k' }, { 'client-certificate-data': 'QQ==' }), /needs both client-certificate and client-key/);
  refused(config({ server: 'k8s.local' }, { token: 'secret-token' }), /has no http\(s\) server URL/);
  refused(config({ server: 'https://k' }, { token: 'secret-token' }, { 'current-context': 'other' }), /no context named "other"/);
  refused(config({ server: 'https://k' }, { token: 'secret-token' }, { 'current-context': '' }), /no current-context is set/);
  refused('{ not yaml: [', /not valid YAML/);
  assert.throws(() => kubeconfigFileConnection('/nonexistent/kubeconfig'), /cannot read kubeconfig \/nonexistent\/kubeconfig/);
});

test("in a pod: the service's address and the mounted ServiceAccount", async () => {
  const dir = await tempDir('service-account');
  try {
    await writeFile(join(dir.path, 'ca.crt'), 'CA');
    await writeFile(join(dir.path, 'token'), 'pod-token');
    const connection = inClusterConnection({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, dir.path);
    assert.is(connection.server, 'https://[fd00::1]:443');
    assert.is(connection.token?.(), 'pod-token');
    assert.throws(() => inClusterConnection({}, dir.path), /KUBERNETES_SERVICE_HOST is not set/);
    assert.throws(() => inClusterConnection({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, join(dir.path, 'missing')), /cannot read the pod's ServiceAccount credentials/);
  } finally {
    await dir.cleanup();
  }
});

test.run();
