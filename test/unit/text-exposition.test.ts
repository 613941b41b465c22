/**
 * The agent's hand-written Prometheus text format: what it renders, and that Prometheus' own promtool
 * parses and lints it.
 */
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AgentMetrics } from '../../agent/metrics.js';
import { TextMetrics } from '../../shared/metrics/text-exposition.js';

test('counters add up per label set, in the order the labels were declared', () => {
  const metrics = new TextMetrics();
  const claims = metrics.counter('x_claims_total', 'Claims.', ['outcome', 'pool']);
  claims.inc({ outcome: 'granted', pool: 'a' });
  claims.inc({ pool: 'a', outcome: 'granted' }, 2);
  claims.inc({ outcome: 'refused', pool: 'a' });
  assert.is(metrics.render(), '# HELP x_claims_total Claims.\n# TYPE x_claims_total counter\nx_claims_total{outcome="granted",pool="a"} 3\nx_claims_total{outcome="refused",pool="a"} 1\n');
  assert.throws(() => claims.inc({ outcome: 'granted', pool: 'a' }, -1), /only goes up/);
});

test('a histogram has cumulative buckets, +Inf, sum and count', () => {
  const metrics = new TextMetrics();
  const seconds = metrics.histogram('x_seconds', 'Time.', [0.1, 1]);
  for (const value of [0.05, 0.5, 0.7, 3]) seconds.observe(value);
  const lines = metrics.render().split('\n');
  assert.equal(lines.slice(2, 7), ['x_seconds_bucket{le="0.1"} 1', 'x_seconds_bucket{le="1"} 3', 'x_seconds_bucket{le="+Inf"} 4', 'x_seconds_sum 4.25', 'x_seconds_count 4']);
  assert.throws(() => metrics.histogram('y_seconds', 'Time.', [1, 1]), /must increase/);
});

test('gauges are read at scrape time; label values and help are escaped', () => {
  const metrics = new TextMetrics();
  let held = 1;
  metrics.gauge('x_held', 'Held\\now\nnext.', () => [[{ lease: 'a"b\\c\nd' }, held]]);
  held = 7;
  assert.is(metrics.render(), '# HELP x_held Held\\\\now\\nnext.\n# TYPE x_held gauge\nx_held{lease="a\\"b\\\\c\\nd"} 7\n');
});

test('bad names and a second registration of one name are refused', () => {
  const metrics = new TextMetrics();
  assert.throws(() => metrics.counter('1bad', 'x', []), /invalid metric name/);
  assert.throws(() => metrics.counter('x_total', 'x', ['le']), /invalid label name/);
  metrics.counter('x_total', 'x', []);
  assert.throws(() => metrics.gauge('x_total', 'x', () => []), /already registered/);
});

test("promtool parses the agent's metrics and finds nothing to lint", () => {
  const agent = new AgentMetrics();
  agent.describe({ currentPhase: 'holding', keysHeld: 3, msToFence: 4200, leaseId: 'lease-1' });
  agent.onClaim('granted');
  agent.onRenewal('ok', 0.003);
  agent.onRenewal('failed', 2);
  agent.onFence('deadline');
  const text = agent.registry.render();
  const checked = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.is(checked.error, undefined, 'promtool runs (package prometheus)');
  assert.is(checked.status, 0, `promtool check metrics: ${checked.stdout}${checked.stderr}`);
  assert.match(text, /keylease_agent_phase\{phase="holding"\} 1/);
  assert.match(text, /keylease_agent_fence_deadline_seconds\{lease="lease-1"\} 4\.2/);
  assert.match(text, /keylease_agent_renewal_duration_seconds_count 2/);
});

test.run();
