/**
 * The pod informer's recovery paths, against a stand-in API server that answers as the Kubernetes API
 * does (a PodList, then a watch stream of JSON lines): a watch whose history expired (an ERROR event with
 * a 410 Status) lists again, and pods gone meanwhile count as deleted; a watch the server ends resumes
 * from the last resourceVersion seen. The real API server's paths are in test/k8s/pod-watch.test.ts.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KubeClient } from '../../coordinator/k8s/api/kube-client.js';
import { PodInformer, type PodSummary } from '../../coordinator/k8s/api/pod-informer.js';

const pod = (name: string, uid: string, resourceVersion: string) => ({ metadata: { name, uid, resourceVersion }, status: { phase: 'Running' } });

async function standIn(answer: (url: URL, response: ServerResponse, calls: string[]) => void) {
  const calls: string[] = [];
  const server = createServer((request, response) => {
    const url = new URL(request.url!, 'http://x');
    calls.push(`${url.searchParams.get('watch') ? 'watch' : 'list'}${url.searchParams.get('resourceVersion') ? `@${url.searchParams.get('resourceVersion')}` : ''}`);
    answer(url, response, calls);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new KubeClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, caPem: null, insecureSkipTlsVerify: false, token: () => 't', clientCertPem: null, clientKeyPem: null });
  return { calls, client, close: () => (client.close(), new Promise((resolve) => server.close(resolve))) };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), what);
}

test('an expired watch (410) lists again; a pod that vanished meanwhile is reported deleted', async () => {
  let lists = 0;
  const api = await standIn((url, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    if (!url.searchParams.get('watch')) {
      lists++;
      const items = lists === 1 ? [pod('a', 'uid-a', '3'), pod('b', 'uid-b', '4')] : [pod('b', 'uid-b', '4')];
      response.end(JSON.stringify({ kind: 'PodList', metadata: { resourceVersion: lists === 1 ? '5' : '9' }, items }));
    } else if (url.searchParams.get('resourceVersion') === '5') {
      response.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 5 (8)' } })}\n`);
    } else {
      response.write(''); // a live watch that sends nothing more
    }
  });
  const deleted: PodSummary[] = [];
  const errors: unknown[] = [];
  const informer = new PodInformer(api.client, 'ns', { onDeleted: (p) => deleted.push(p), onError: (e) => errors.push(e) });
  try {
    await informer.start();
    assert.is(informer.size, 2);
    await until(() => deleted.length === 1, 'the vanished pod is reported');
    assert.equal(deleted[0], { name: 'a', uid: 'uid-a', terminating: false, phase: 'Running' });
    assert.is(informer.get('a'), undefined);
    assert.is(informer.get('b')?.uid, 'uid-b');
    await until(() => api.calls.includes('watch@9'), 'watches on from the new list');
    assert.equal(api.calls.slice(0, 4), ['list', 'watch@5', 'list', 'watch@9']);
    assert.equal(errors, []);
  } finally {
    informer.stop();
    await api.close();
  }
});

test('a watch the server ends resumes from the last resourceVersion; events update the cache', async () => {
  const api = await standIn((url, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    if (!url.searchParams.get('watch')) {
      response.end(JSON.stringify({ kind: 'PodList', metadata: { resourceVersion: '10' }, items: [pod('a', 'uid-a', '10')] }));
    } else if (url.searchParams.get('resourceVersion') === '10') {
      const replaced = { ...pod('a', 'uid-a2', '12'), status: { phase: 'Pending' } };
      const lines = [
        { type: 'DELETED', object: pod('a', 'uid-a', '11') },
        { type: 'ADDED', object: replaced },
        { type: 'BOOKMARK', object: { metadata: { resourceVersion: '15' } } },
      ];
      response.end(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    } else {
      response.write('');
    }
  });
  const deleted: string[] = [];
  const informer = new PodInformer(api.client, 'ns', { onDeleted: (p) => deleted.push(p.uid!), onError: () => {} });
  try {
    await informer.start();
    await until(() => api.calls.includes('watch@15'), 'resumes after the bookmark');
    assert.equal(deleted, ['uid-a']);
    assert.equal(informer.get('a'), { name: 'a', uid: 'uid-a2', terminating: false, phase: 'Pending' });
    assert.equal(api.calls.filter((c) => c === 'list'), ['list'], 'no second list');
  } finally {
    informer.stop();
    await api.close();
  }
});

test('an error the watch cannot recover from is reported once, and the cache stays as it was', async () => {
  const api = await standIn((url, response) => {
    if (!url.searchParams.get('watch')) {
      response.writeHead(200).end(JSON.stringify({ metadata: { resourceVersion: '1' }, items: [pod('a', 'uid-a', '1')] }));
    } else {
      response.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: 403, reason: 'Forbidden', message: 'pods is forbidden' }));
    }
  });
  const errors: Error[] = [];
  const informer = new PodInformer(api.client, 'ns', { onDeleted: () => {}, onError: (e) => errors.push(e as Error) });
  try {
    await informer.start();
    await until(() => errors.length === 1, 'the failure is reported');
    assert.match(errors[0]!.message, /HTTP 403 Forbidden: pods is forbidden/);
    assert.is(informer.get('a')?.uid, 'uid-a');
  } finally {
    informer.stop();
    await api.close();
  }
});

test.run();
