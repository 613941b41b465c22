/**
 * The PrometheusRule in k8s/components/monitoring: Prometheus's own promtool checks the rules and runs
 * unit tests of them on made-up series, and every keylease metric they name must be one the coordinator
 * exports (a renamed metric would otherwise leave an alert that can never fire).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { CoordinatorMetrics } from '../../coordinator/api/metrics.js';
import { AgentMetrics } from '../../agent/metrics.js';
import { tempDir } from '../support/temp-dir.js';

const PROMTOOL = '/usr/bin/promtool';
const RULE_FILE = 'k8s/components/monitoring/alerts.yaml';

interface Rule {
  alert: string;
  expr: string;
  labels: { severity: string };
  annotations: Record<string, string>;
}

const ruleSpec = parse(readFileSync(RULE_FILE, 'utf8')) as { kind: string; spec: { groups: Array<{ name: string; rules: Rule[] }> } };
const rules = ruleSpec.spec.groups.flatMap((g) => g.rules);

/** An alert as promtool expects it: the rule's labels and annotations, with the series' labels filled in. */
function firing(alertName: string, seriesLabels: Record<string, string> = {}) {
  const rule = rules.find((r) => r.alert === alertName);
  if (!rule) throw new Error(`no alert ${alertName} in ${RULE_FILE}`);
  const render = (text: string) => text.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, name: string) => seriesLabels[name] ?? '');
  return {
    exp_labels: { ...seriesLabels, ...rule.labels },
    exp_annotations: Object.fromEntries(Object.entries(rule.annotations).map(([key, text]) => [key, render(text)])),
  };
}

async function promtool(args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(PROMTOOL, args);
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

test('every keylease metric the alerts name is one the coordinator exports', async () => {
  const metrics = new CoordinatorMetrics(async () => null);
  metrics.reportRaft(() => ({ role: 'leader', lead: 'r1', term: 1, commit: 1, applied: 1, confState: { voters: ['r1'], learners: [] } }));
  metrics.reportCertificateExpiry(() => Date.now() + 86_400_000);
  const agent = new AgentMetrics();
  agent.describe({ currentPhase: 'holding', keysHeld: 1, msToFence: 1000, leaseId: 'lease-1' });
  const exported = new Set([...(await metrics.registry.getMetricsAsJSON()).map((m) => m.name), ...agent.registry.names()]);
  const named = new Set(rules.flatMap((r) => r.expr.match(/keylease_[a-z_]+/g) ?? []));
  assert.ok(named.size >= 8, `the alerts use the metrics (${[...named].join(', ')})`);
  for (const name of named) assert.ok(exported.has(name), `${name} is exported`);
});

test('promtool accepts the rules, and the alerts fire on the series they are about and not otherwise', async () => {
  assert.ok(existsSync(PROMTOOL), 'promtool is installed (Debian package prometheus; .ci/run installs it)');
  const dir = await tempDir('alert-rules');
  try {
    const rulesFile = join(dir.path, 'rules.yaml');
    writeFileSync(rulesFile, stringify({ groups: ruleSpec.spec.groups }));
    const checked = await promtool(['check', 'rules', rulesFile]);
    assert.ok(checked.ok, checked.output);

    const replica = (pod: string) => `{pod="${pod}"}`;
    const testsFile = join(dir.path, 'tests.yaml');
    writeFileSync(
      testsFile,
      stringify({
        rule_files: [rulesFile],
        evaluation_interval: '1m',
        tests: [
          {
            // All three replicas lose the leader at minute 2; one of them also loses sight earlier.
            interval: '1m',
            input_series: [
              { series: `keylease_raft_has_leader${replica('r0')}`, values: '1 1 0 0 0 0' },
              { series: `keylease_raft_has_leader${replica('r1')}`, values: '1 1 0 0 0 0' },
              { series: `keylease_raft_has_leader${replica('r2')}`, values: '0 0 0 0 0 0' },
            ],
            alert_rule_test: [
              { eval_time: '1m', alertname: 'KeyleaseNoLeader', exp_alerts: [] },
              { eval_time: '4m', alertname: 'KeyleaseNoLeader', exp_alerts: [firing('KeyleaseNoLeader')] },
              { eval_time: '1m', alertname: 'KeyleaseReplicaWithoutLeader', exp_alerts: [] },
              { eval_time: '2m', alertname: 'KeyleaseReplicaWithoutLeader', exp_alerts: [firing('KeyleaseReplicaWithoutLeader', { pod: 'r2' })] },
            ],
          },
          {
            // r2 applies nothing while the others move on 500 entries a minute.
            interval: '1m',
            input_series: [
              { series: `keylease_raft_commit_index${replica('r0')}`, values: '0+500x10' },
              { series: `keylease_raft_applied_index${replica('r0')}`, values: '0+500x10' },
              { series: `keylease_raft_applied_index${replica('r2')}`, values: '0x10' },
            ],
            alert_rule_test: [{ eval_time: '9m', alertname: 'KeyleaseReplicaBehind', exp_alerts: [firing('KeyleaseReplicaBehind', { pod: 'r2' })] }],
          },
          {
            // time() starts at 0 in promtool: one certificate expires in a day, the other in 30.
            interval: '1m',
            input_series: [
              { series: `keylease_tls_certificate_expiration_timestamp_seconds${replica('r0')}`, values: '86400x5' },
              { series: `keylease_tls_certificate_expiration_timestamp_seconds${replica('r1')}`, values: '2592000x5' },
            ],
            alert_rule_test: [{ eval_time: '1m', alertname: 'KeyleaseCertificateExpiring', exp_alerts: [firing('KeyleaseCertificateExpiring', { pod: 'r0' })] }],
          },
          {
            // One agent fences at minute 3; the other renews throughout.
            interval: '1m',
            input_series: [
              { series: 'keylease_agent_fences_total{namespace="validators",pod="lighthouse-0",cause="deadline"}', values: '0 0 0 1 1 1' },
              { series: 'keylease_agent_fences_total{namespace="validators",pod="teku-0",cause="deadline"}', values: '0 0 0 0 0 0' },
            ],
            alert_rule_test: [
              { eval_time: '2m', alertname: 'KeyleaseAgentFenced', exp_alerts: [] },
              { eval_time: '4m', alertname: 'KeyleaseAgentFenced', exp_alerts: [firing('KeyleaseAgentFenced', { namespace: 'validators', pod: 'lighthouse-0', cause: 'deadline' })] },
            ],
          },
          {
            // Two replicas report the same pool: a quarantine that lasts fires once per pool, a brief one never.
            interval: '1m',
            input_series: [
              { series: `keylease_keys${'{'}pool="mainnet",state="quarantined",pod="r0"}`, values: '0 2 2 2 2 2 2 2 2 2 2 2 2 2 2' },
              { series: `keylease_keys${'{'}pool="mainnet",state="quarantined",pod="r1"}`, values: '0 2 2 2 2 2 2 2 2 2 2 2 2 2 2' },
              { series: `keylease_keys${'{'}pool="hoodi",state="quarantined",pod="r0"}`, values: '0 1 1 0 0 0 0 0 0 0 0 0 0 0 0' },
            ],
            alert_rule_test: [
              { eval_time: '5m', alertname: 'KeyleaseKeysQuarantined', exp_alerts: [] },
              { eval_time: '12m', alertname: 'KeyleaseKeysQuarantined', exp_alerts: [firing('KeyleaseKeysQuarantined', { pool: 'mainnet' })] },
            ],
          },
          {
            interval: '1m',
            input_series: [{ series: 'keylease_lease_expiries_total{pool="mainnet"}', values: '0 0 0 1 1 1' }],
            alert_rule_test: [
              { eval_time: '2m', alertname: 'KeyleaseLeasesExpiring', exp_alerts: [] },
              { eval_time: '4m', alertname: 'KeyleaseLeasesExpiring', exp_alerts: [firing('KeyleaseLeasesExpiring')] },
            ],
          },
        ],
      }),
    );
    const tested = await promtool(['test', 'rules', testsFile]);
    assert.ok(tested.ok, tested.output);
  } finally {
    await dir.cleanup();
  }
});

test.run();
