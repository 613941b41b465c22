/**
 * Pod identity on a real node: the coordinators check a claim's projected token with TokenReview and the
 * pod it names. A claim without a token, with a token that is not one, or with a real pod-bound token
 * while naming another pod is refused and gets nothing; the same token for its own pod is accepted
 * (which shows the refusals are about identity, not reachability).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KeyleaseProcess } from '../support/processes.js';
import { assignments, ensureKeylease, leaderHttp, VALIDATORS } from './support/deploy.js';
import { e2eCluster, podReady, waitUntil } from './support/kube.js';

const cluster = e2eCluster();
const { kubectl } = await ensureKeylease(cluster);
const TARGET = 'identity-target';
const dir = mkdtempSync(join(tmpdir(), 'keylease-e2e-identity-'));
// The leader itself: these agents run in the network namespace, not in pods, so they cannot resolve the
// cluster DNS names a follower would send them on to.
const coordinator = `${new URL((await leaderHttp(kubectl)).base).hostname}:7400`;

// A pod of the granted ServiceAccount that the tokens can be bound to (not opted in: no agent of its own).
await kubectl.apply(JSON.stringify({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: TARGET, namespace: VALIDATORS },
  spec: { serviceAccountName: 'validator', containers: [{ name: 'idle', image: cluster.pauseImage, imagePullPolicy: 'Never' }] },
}));
await waitUntil(`${TARGET} running`, 120_000, async () => {
  const pod = await kubectl.find(['-n', VALIDATORS, 'get', 'pod', TARGET]);
  return pod && podReady(pod) ? true : undefined;
});

/** A pod-bound token of the validator ServiceAccount with the keylease audience, as the kubelet projects it. */
async function boundToken(podName: string): Promise<string> {
  return (await kubectl.run(['-n', VALIDATORS, 'create', 'token', 'validator', '--audience', 'keylease', '--bound-object-kind', 'Pod', '--bound-object-name', podName, '--duration', '600s'])).trim();
}

function claimAs(podName: string, tokenFile?: string): KeyleaseProcess {
  const out = mkdtempSync(join(dir, 'out-'));
  return new KeyleaseProcess([
    'agent', '--coordinator', coordinator, '--pod-name', podName, '--keys', '1', '--layout', 'plain', '--out', out,
    '--health-listen', '127.0.0.1:0', ...(tokenFile ? ['--token-file', tokenFile] : []),
  ]);
}

async function refusal(agent: KeyleaseProcess): Promise<string> {
  try {
    const record = await agent.waitFor((r) => r.msg === 'claim failed; retrying' || r.msg === 'agent stopped on an error it cannot retry' || r.msg === 'keys claimed and written', 30_000, 'the claim answered');
    assert.is.not(record.msg, 'keys claimed and written', 'the claim was refused');
    process.stdout.write(`refused: ${String(record['error'])}\n`);
    return String(record['error']);
  } finally {
    await agent.kill('SIGKILL');
  }
}

async function podNames(): Promise<string[]> {
  return (await assignments(kubectl)).pods.map((p) => p.podName);
}

test('a claim with no token is refused', async () => {
  const error = await refusal(claimAs(TARGET));
  assert.match(error, /no token/);
  assert.not.ok((await podNames()).some((p) => p.endsWith(TARGET)));
});

test('a claim with a token that is no ServiceAccount token is refused', async () => {
  const file = join(dir, 'garbage.token');
  writeFileSync(file, 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJub2JvZHkifQ.c2lnbmF0dXJl');
  const error = await refusal(claimAs(TARGET, file));
  assert.match(error, /Kubernetes did not accept the token/);
  assert.not.ok((await podNames()).some((p) => p.endsWith(TARGET)));
});

test('a real pod-bound token presented for another pod is refused', async () => {
  const file = join(dir, 'target.token');
  writeFileSync(file, await boundToken(TARGET));
  const error = await refusal(claimAs('someone-else-0', file));
  assert.match(error, /the token belongs to pod validators\/identity-target, but the request is for pod validators\/someone-else-0/);
  assert.not.ok((await podNames()).some((p) => p.endsWith('someone-else-0')));
});

test('the same token for its own pod is accepted (then released)', async () => {
  const file = join(dir, 'target.token');
  writeFileSync(file, await boundToken(TARGET));
  const agent = claimAs(TARGET, file);
  try {
    await agent.waitForMessage('keys claimed and written', 30_000);
    assert.ok((await podNames()).some((p) => p.endsWith(TARGET)));
  } finally {
    await agent.kill('SIGTERM');
  }
  await waitUntil('the lease released', 30_000, async () => ((await podNames()).some((p) => p.endsWith(TARGET)) ? undefined : true));
});

test.run();
