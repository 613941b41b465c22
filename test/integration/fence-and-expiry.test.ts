import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { READY_MARKER } from '../../shared/eth/layouts/engine.js';
import { eventually, fetchAssignments, startCoordinatorProcess, writeSecrets } from '../support/coordinator-fixture.js';
import { scrape } from '../support/prometheus-text.js';
import { KeyleaseProcess, type LogRecord } from '../support/processes.js';
import { tempDir } from '../support/temp-dir.js';

const TTL_MS = 3000;
const timeOf = (r: LogRecord) => Date.parse(String(r['time']));

function startAgent(endpoint: string, podName: string, outDir: string, keys: number): KeyleaseProcess {
  return new KeyleaseProcess(['agent', '--coordinator', endpoint, '--pod-name', podName, '--keys', String(keys), '--layout', 'plain', '--out', outDir, '--health-listen', '127.0.0.1:0', '--log-level', 'debug']);
}

test('with the coordinator gone, the agent fences before the coordinator could have expired its lease', async () => {
  const dir = await tempDir('fence');
  const processes: KeyleaseProcess[] = [];
  try {
    const secrets = await writeSecrets(dir.path);
    const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'data'), ...secrets, extra: ['--lease-ttl-ms', String(TTL_MS)] });
    processes.push(coordinator.process);
    const outDir = join(dir.path, 'pod');
    const agent = startAgent(coordinator.grpcEndpoint, 'validator-0', outDir, 1);
    processes.push(agent);
    await agent.waitForMessage('keys claimed and written');
    await coordinator.process.waitForMessage('lease renewed');
    const started = await agent.waitForMessage('agent started');
    const healthPort = Number(String(started['health']).split(':').pop());
    const agentMetrics = () => scrape(`http://127.0.0.1:${healthPort}/metrics`);
    const holding = await eventually(async () => {
      const sample = await agentMetrics();
      return (sample('keylease_agent_renewals_total', { outcome: 'ok' }) ?? 0) >= 1 ? sample : undefined;
    }, 10_000, 'the agent counting its renewal');
    assert.is(holding('keylease_agent_phase', { phase: 'holding' }), 1);
    assert.is(holding('keylease_agent_keys_held'), 1);
    assert.is(holding('keylease_agent_claims_total', { outcome: 'granted' }), 1);
    const leaseId = String((await agent.waitForMessage('keys claimed and written'))['leaseId']);
    const deadline = holding('keylease_agent_fence_deadline_seconds', { lease: leaseId })!;
    assert.ok(deadline > 0 && deadline < TTL_MS / 1000, `the fence is ${deadline} s away, within the TTL`);

    const killedAt = Date.now();
    await coordinator.process.kill('SIGKILL');
    const renewals = coordinator.process.records.filter((r) => r.msg === 'lease renewed');
    const lastReceivedAt = timeOf(renewals[renewals.length - 1]!);
    // The fence that follows the coordinator's death (a slow first claim on a loaded machine may fence earlier).
    const fence = await agent.waitFor((r) => r.msg === 'fenced: keys removed' && timeOf(r) >= killedAt - 50, TTL_MS * 3, 'the fence after the coordinator died');
    const fencedAt = timeOf(fence);

    // The coordinator would expire TTL after the last renewal it received; the agent must be earlier.
    assert.ok(fencedAt < lastReceivedAt + TTL_MS, `fenced ${fencedAt - lastReceivedAt} ms after the last renewal was received; TTL is ${TTL_MS}`);
    console.log(`fence margin observed: ${lastReceivedAt + TTL_MS - fencedAt} ms before the earliest possible expiry`);
    assert.not.ok(existsSync(join(outDir, READY_MARKER)));
    assert.not.ok(existsSync(join(outDir, 'keystores')) && (await import('node:fs')).readdirSync(join(outDir, 'keystores')).length > 0, 'no keystore left');
    const fenced = await agentMetrics();
    assert.is(fenced('keylease_agent_fences_total', { cause: 'deadline' }), 1, 'the fence is counted with its cause');
    assert.is(fenced('keylease_agent_phase', { phase: 'fenced' }), 1);
    assert.is(fenced('keylease_agent_keys_held'), 0);
    assert.is(fenced('keylease_agent_fence_deadline_seconds', { lease: leaseId }), undefined, 'no lease, no deadline');
    const health = await fetch(`http://127.0.0.1:${healthPort}/healthz`);
    assert.is(health.status, 503, 'health endpoint turns red when fenced');
    const ready = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
    assert.is(ready.status, 503);
  } finally {
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await dir.cleanup();
  }
});

test('a pod killed without release: its lease expires, its keys cool down, and only then go to the next pod', async () => {
  const dir = await tempDir('expiry');
  const processes: KeyleaseProcess[] = [];
  const coolingMs = 1500;
  try {
    const secrets = await writeSecrets(dir.path);
    // A pool of exactly two keys, so the second pod can only get the first pod's keys.
    const coordinator = await startCoordinatorProcess({
      dataDir: join(dir.path, 'data'),
      ...secrets,
      extra: ['--lease-ttl-ms', String(TTL_MS), '--cooling-ms', String(coolingMs), '--pool-max-keys', '2'],
    });
    processes.push(coordinator.process);
    const first = startAgent(coordinator.grpcEndpoint, 'validator-a', join(dir.path, 'a'), 2);
    processes.push(first);
    await first.waitForMessage('keys claimed and written');
    const firstKeys = (JSON.parse(await readFile(join(dir.path, 'a', READY_MARKER), 'utf8')) as { pubKeys: string[] }).pubKeys.sort();
    await first.kill('SIGKILL');

    const second = startAgent(coordinator.grpcEndpoint, 'validator-b', join(dir.path, 'b'), 2);
    processes.push(second);
    await second.waitForMessage('waiting for free keys');
    const expired = await coordinator.process.waitForMessage('lease expired without renewal', TTL_MS * 3);
    const cooling = await fetchAssignments(coordinator.httpBase);
    assert.equal(cooling.cooling.map((k) => k.pubKey).sort(), firstKeys, 'the expired keys are listed as cooling');
    assert.is(cooling.pools['default']!.cooling, 2);
    const claimed = await second.waitForMessage('keys claimed and written', 20_000);
    assert.ok(timeOf(claimed) >= timeOf(expired) + coolingMs, `second pod got the keys ${timeOf(claimed) - timeOf(expired)} ms after expiry; cooling is ${coolingMs} ms`);
    const secondKeys = (JSON.parse(await readFile(join(dir.path, 'b', READY_MARKER), 'utf8')) as { pubKeys: string[] }).pubKeys.sort();
    assert.equal(secondKeys, firstKeys);
  } finally {
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await dir.cleanup();
  }
});

test.run();
