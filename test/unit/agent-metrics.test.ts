/**
 * The agent's metrics: every claim outcome, renewal outcome and fence cause is exported at 0 from the
 * start (so increase() sees the first fence), and the time left before the fence deadline at each confirmed renewal.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AgentMetrics } from '../../agent/metrics.js';
import { FENCE_CAUSES } from '../../agent/lease-observer.js';
import { sampleValue } from '../support/prometheus-text.js';

test('every fence cause, claim outcome and renewal outcome is exported at 0 before anything happened', () => {
  const text = new AgentMetrics().registry.render();
  for (const cause of FENCE_CAUSES) assert.is(sampleValue(text, 'keylease_agent_fences_total', { cause }), 0, cause);
  for (const outcome of ['granted', 'refused', 'failed']) assert.is(sampleValue(text, 'keylease_agent_claims_total', { outcome }), 0, outcome);
  for (const outcome of ['ok', 'failed']) assert.is(sampleValue(text, 'keylease_agent_renewals_total', { outcome }), 0, outcome);
});

test('keylease_agent_fence_deadline_at_renewal_seconds observes what was left before the fence at each confirmed renewal, never a failed one', () => {
  const metrics = new AgentMetrics();
  metrics.onRenewal('ok', 0.004, 3200);
  metrics.onRenewal('ok', 0.3, 800);
  metrics.onRenewal('failed', 1.5, 150);
  // Answered after the deadline had passed (the fence has started): counted as no margin at all.
  metrics.onRenewal('ok', 2, -40);
  const text = metrics.registry.render();
  const bucket = (le: string) => sampleValue(text, 'keylease_agent_fence_deadline_at_renewal_seconds_bucket', { le });
  assert.is(sampleValue(text, 'keylease_agent_fence_deadline_at_renewal_seconds_count'), 3);
  assert.is(sampleValue(text, 'keylease_agent_fence_deadline_at_renewal_seconds_sum'), 4);
  assert.is(bucket('0.25'), 1, 'the late answer');
  assert.is(bucket('1'), 2, 'and the one with 0.8 s left');
  assert.is(bucket('3'), 2);
  assert.is(bucket('5'), 3);
  assert.is(sampleValue(text, 'keylease_agent_renewals_total', { outcome: 'failed' }), 1);
});

test.run();
