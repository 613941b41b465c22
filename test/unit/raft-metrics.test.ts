/**
 * The Raft metrics every replica exports: leader changes as etcd counts them, and the apply lag read
 * from one status reading.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Registry } from 'prom-client';
import { registerRaftMetrics, type RaftStatusView } from '../../coordinator/api/raft-metrics.js';
import { LeaderChangeCounter } from '../../coordinator/replication/raft/leader-changes.js';
import { sampleValue } from '../support/prometheus-text.js';

test('a leader counts when it comes after none or after another; the same leader found again after none counts again', () => {
  const counter = new LeaderChangeCounter();
  assert.is(counter.count, 0);
  const seen: number[] = [];
  for (const lead of [null, 'r1', 'r1', null, 'r1', 'r2', 'r3', 'r3', null, null]) {
    counter.observe(lead);
    seen.push(counter.count);
  }
  assert.equal(seen, [0, 1, 1, 1, 2, 3, 4, 4, 4, 4]);
});

test('the replica\'s count is exported as keylease_raft_leader_changes_total, a counter read at scrape time', async () => {
  const registry = new Registry();
  let status: RaftStatusView = { role: 'follower', lead: 'r2', term: 7, commit: 120, applied: 95, leaderChanges: 3, confState: { voters: ['r1', 'r2', 'r3'], learners: [] } };
  registerRaftMetrics(registry, () => status);
  const first = await registry.metrics();
  assert.match(first, '# TYPE keylease_raft_leader_changes_total counter');
  assert.is(sampleValue(first, 'keylease_raft_leader_changes_total'), 3);
  status = { ...status, leaderChanges: 5 };
  assert.is(sampleValue(await registry.metrics(), 'keylease_raft_leader_changes_total'), 5);
});

test('keylease_raft_apply_lag_entries is commit minus applied, from the same status reading', async () => {
  const registry = new Registry();
  let readings = 0;
  const statuses: RaftStatusView[] = [
    { role: 'follower', lead: 'r1', term: 2, commit: 120, applied: 95, leaderChanges: 1, confState: { voters: ['r1', 'r2', 'r3'], learners: [] } },
    { role: 'leader', lead: 'r1', term: 2, commit: 400, applied: 400, leaderChanges: 1, confState: { voters: ['r1', 'r2', 'r3'], learners: [] } },
  ];
  registerRaftMetrics(registry, () => statuses[Math.min(readings++, statuses.length - 1)]!);
  const metric = registry.getSingleMetric('keylease_raft_apply_lag_entries')!;
  assert.is((await metric.get()).values[0]!.value, 25);
  assert.is((await metric.get()).values[0]!.value, 0);
  const text = await registry.metrics();
  assert.match(text, '# TYPE keylease_raft_apply_lag_entries gauge');
  assert.is(sampleValue(text, 'keylease_raft_commit_index'), 400);
  assert.is(sampleValue(text, 'keylease_raft_applied_index'), 400);
});

test.run();
