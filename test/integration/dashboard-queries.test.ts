/**
 * The Grafana dashboard in k8s/components/monitoring: a valid dashboard whose every panel asks a
 * Prometheus data source, and whose every query, with its variables filled in as Grafana fills them,
 * returns series from a real Prometheus (Debian's) scraping a three-replica cluster that makes its own
 * deposits and an agent holding keys.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { eventually, writeSecrets } from '../support/coordinator-fixture.js';
import { TestCluster } from '../support/cluster-fixture.js';
import { coordinatorDepositFlags, startTestChain, type TestChain } from '../support/evm.js';
import { formatVariable, interpolate, labelValuesQuery, rateIntervalSeconds, type DashboardVariable } from '../support/grafana-templating.js';
import { freePorts } from '../support/ports.js';
import { KeyleaseProcess } from '../support/processes.js';
import { PrometheusServer, type PrometheusSample } from '../support/prometheus-server.js';
import { tempDir } from '../support/temp-dir.js';

const COMPONENT = 'k8s/components/monitoring';
const DASHBOARD_FILE = `${COMPONENT}/grafana-dashboard.json`;
const SCRAPE_INTERVAL_S = 1;
const TTL_MS = 6000;

interface Target {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: DashboardVariable[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
const variables = dashboard.templating.list;
/** Panels that show data (rows only group them). */
const dataPanels = dashboard.panels.filter((p) => p.type !== 'row');
const PROMETHEUS_DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

test('the dashboard is a valid Grafana dashboard whose every panel queries the chosen Prometheus', () => {
  assert.match(dashboard.uid, /^[A-Za-z0-9_-]{1,40}$/, 'a uid Grafana accepts, fixed so links to it last');
  assert.ok(dashboard.title.length > 0);
  assert.ok(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion > 0);
  const datasource = variables.find((v) => v.name === 'datasource');
  assert.equal({ type: datasource?.type, query: datasource?.query }, { type: 'datasource', query: 'prometheus' }, 'a data source variable picks the Prometheus');
  const ids = dashboard.panels.map((p) => p.id);
  assert.is(new Set(ids).size, ids.length, 'panel ids are unique');
  assert.ok(dataPanels.length >= 10);
  for (const panel of dashboard.panels) {
    const { x, y, w, h } = panel.gridPos;
    assert.ok(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= 24, `${panel.title}: gridPos within the 24 columns`);
  }
  for (const panel of dataPanels) {
    assert.ok(panel.title.length > 0 && panel.type.length > 0, `panel ${panel.id} has a title and a type`);
    assert.equal(panel.datasource, PROMETHEUS_DATASOURCE, `${panel.title}: datasource`);
    assert.ok(Array.isArray(panel.targets) && panel.targets.length > 0, `${panel.title}: targets`);
    const refIds = panel.targets!.map((t) => t.refId);
    assert.is(new Set(refIds).size, refIds.length, `${panel.title}: refIds are unique`);
    for (const target of panel.targets!) {
      assert.ok(target.expr.trim().length > 0, `${panel.title} ${target.refId}: an expression`);
      assert.equal(target.datasource, PROMETHEUS_DATASOURCE, `${panel.title} ${target.refId}: datasource`);
    }
  }
  for (const variable of variables.filter((v) => v.type === 'query')) {
    assert.equal((variable as { datasource?: unknown }).datasource, PROMETHEUS_DATASOURCE, `variable ${variable.name} asks the chosen Prometheus`);
    labelValuesQuery(variable);
  }
});

test('the dashboard shows what operators asked for: pool by state, claims, renewals, fences, quarantine, deposits, Raft, leader changes, fence margin', () => {
  const exprs = dataPanels.flatMap((p) => p.targets!.map((t) => t.expr)).join('\n');
  for (const metric of [
    'keylease_keys', 'state="quarantined"', 'keylease_claims_total', 'keylease_agent_renewals_total', 'keylease_agent_fences_total', 'keylease_deposits',
    'keylease_raft_term', 'keylease_raft_commit_index', 'keylease_raft_apply_lag_entries', 'keylease_raft_leader_changes_total', 'keylease_agent_fence_deadline_at_renewal_seconds_bucket',
  ]) {
    assert.ok(exprs.includes(metric), `a panel queries ${metric}`);
  }
});

test('kustomize users get the dashboard: the monitoring component generates a ConfigMap with the grafana_dashboard label', () => {
  const kustomization = parse(readFileSync(`${COMPONENT}/kustomization.yaml`, 'utf8')) as {
    configMapGenerator?: Array<{ name: string; files: string[]; options?: { labels?: Record<string, string>; disableNameSuffixHash?: boolean } }>;
  };
  const generator = kustomization.configMapGenerator?.find((g) => g.files.some((f) => f.endsWith('=grafana-dashboard.json')));
  assert.ok(generator, 'a configMapGenerator holds grafana-dashboard.json');
  assert.is(generator!.options?.labels?.['grafana_dashboard'], '1', 'the label Grafana\'s dashboard sidecar looks for');
  assert.is(generator!.options?.disableNameSuffixHash, true, 'a fixed name, so an update replaces the dashboard');
  const production = parse(readFileSync('k8s/overlays/production/kustomization.yaml', 'utf8')) as { components: string[] };
  assert.ok(production.components.includes('../../components/monitoring'), 'the production overlay includes the component');
});

test('every panel query returns series from a real Prometheus scraping three replicas and an agent holding keys', async () => {
  const dir = await tempDir('dashboard');
  let chain: TestChain | null = null;
  let cluster: TestCluster | null = null;
  let agent: KeyleaseProcess | null = null;
  let prometheus: PrometheusServer | null = null;
  try {
    chain = await startTestChain();
    const secrets = await writeSecrets(dir.path);
    const fundingKeyFile = join(dir.path, 'funding.key');
    await writeFile(fundingKeyFile, chain.chain.fundingPrivKey, { mode: 0o600 });
    // A pool that makes its own deposits, so the deposit panel has figures.
    cluster = await TestCluster.create(dir.path, secrets, ['r1', 'r2', 'r3'], ['--lease-ttl-ms', String(TTL_MS), ...coordinatorDepositFlags(chain, chain.chain.rpcUrl, fundingKeyFile)]);
    await cluster.startAll();
    const [healthPort] = (await freePorts(1)) as [number];
    agent = new KeyleaseProcess(['agent', '--coordinator', cluster.agentEndpoints, '--pod-name', 'validator-0', '--keys', '2', '--layout', 'plain', '--out', join(dir.path, 'pod'), '--health-listen', `127.0.0.1:${healthPort}`]);
    await agent.waitForMessage('keys claimed and written', 45_000);

    // The labels the ServiceMonitor and PodMonitor give these series in Kubernetes.
    prometheus = await PrometheusServer.start(join(dir.path, 'prometheus'), {
      'keylease-coordinator': cluster.replicas.map((r) => ({ address: `127.0.0.1:${r.httpPort}`, labels: { namespace: 'keylease', pod: r.id } })),
      'keylease-agents': [{ address: `127.0.0.1:${healthPort}`, labels: { namespace: 'validators', pod: 'validator-0' } }],
    }, SCRAPE_INTERVAL_S);
    const server = prometheus;
    await eventually(async () => {
      const targets = await server.targets();
      return targets.length === 4 && targets.every((t) => t.health === 'up') ? true : undefined;
    }, 20_000, 'Prometheus scraping all four targets');

    // Variables as Grafana sets them when the dashboard opens: All of what label_values lists.
    const values: Record<string, string> = { __rate_interval: `${rateIntervalSeconds(SCRAPE_INTERVAL_S)}s` };
    for (const variable of variables.filter((v) => v.type === 'query')) {
      const { metric, label } = labelValuesQuery(variable);
      const listed = await eventually(async () => {
        const found = await server.labelValues(metric, label);
        return found.length > 0 ? found : undefined;
      }, 20_000, `label_values(${metric}, ${label}) for $${variable.name}`);
      values[variable.name] = formatVariable(variable, 'all', listed);
    }
    assert.is(values['pool'], 'default');
    assert.is(values['namespace'], 'validators');

    const results = new Map<string, PrometheusSample[]>();
    const empty: string[] = [];
    // A rate needs two scrapes inside its window: wait for each query to answer, up to a shared deadline.
    const deadline = Date.now() + 20_000;
    for (const panel of dataPanels) {
      for (const target of panel.targets!) {
        const expr = interpolate(target.expr, values);
        const key = `${panel.title} ${target.refId}`;
        let samples = await server.query(expr);
        while (samples.length === 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          samples = await server.query(expr);
        }
        results.set(key, samples);
        if (samples.length === 0) empty.push(`${key}: ${expr}`);
      }
    }
    assert.equal(empty, [], 'every query returns at least one series');

    // And the series say what the cluster is doing.
    const value = (key: string, labels: Record<string, string>) =>
      results.get(key)!.find((s) => Object.entries(labels).every(([k, v]) => s.metric[k] === v))?.value[1];
    assert.is(value('Keys by state A', { pool: 'default', state: 'allocated' }), '2', 'the agent\'s two keys are allocated');
    assert.is(value('Quarantined keys A', {}), '0');
    assert.is(value('Deposits A', { pool: 'default', status: 'confirmed' }), '2', 'both keys were deposited');
    for (const raft of ['Raft term A', 'Raft commit index A', 'Raft apply lag A', 'Leader A']) {
      assert.equal(results.get(raft)!.map((s) => s.metric['pod']).sort(), ['r1', 'r2', 'r3'], `${raft}: one series per replica`);
    }
    assert.is(results.get('Leader A')!.filter((s) => s.value[1] === '1').length, 1, 'one replica leads');
    const leaderChanges = await server.query('keylease_raft_leader_changes_total');
    assert.equal(leaderChanges.map((s) => s.metric['pod']).sort(), ['r1', 'r2', 'r3']);
    assert.ok(leaderChanges.every((s) => Number(s.value[1]) >= 1), 'every replica counted the first election');
    assert.is(value('Agents by phase A', { phase: 'holding' }), '1');
    assert.ok(Number(value('Agent fence margin A', { namespace: 'validators', pod: 'validator-0' })) > 0, 'the agent has time left before its fence');
  } finally {
    await prometheus?.stop();
    await agent?.kill('SIGKILL');
    await cluster?.stopAll();
    await chain?.close();
    await dir.cleanup();
  }
});

test.run();
