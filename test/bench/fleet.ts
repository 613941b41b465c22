/**
 * A fleet of validator pods against three coordinator replicas on this machine. The pods are the agent's
 * own lease loops, many to a process (fleet-agents.ts), holding keys in memory: the coordinators are
 * what is measured. Prints how long the fleet took to hold its keys, renewal latency, the renewals per
 * second the leader answered (at the fleet's own pace, then flooded), replica RSS, and a SIGKILL of the
 * leader under that load: how long until the next one leads, renewal latency across it, and fences.
 *
 * The pool is seeded by importing pre-made keystores with a one-iteration KDF (fleet-keys.ts, cached
 * under ~/.cache/keylease-bench): key derivation is not measured here (npm run bench:derivation is).
 *
 * Usage: npm run bench:fleet [-- --pods N --keys K --ttl-ms MS --hold-s S --flood-s S --flood-in-flight N --flood-streams N --agent-procs N --claim-timeout-s S --start-per-s N --cpu-hog]
 *   --cpu-hog  one busy process per core runs from the fleet's start to its end
 *   --replica-logs DIR  each replica's log lines are written to DIR/<replica>.log at the end
 *   --cpu-prof-dir DIR  each replica writes a V8 CPU profile into DIR when it stops (summariseCpuProfile in cpu-profile-summary.ts reads one)
 *   --agent-cpu-prof-dir DIR  each agent process profiles the 10 s from the leader's SIGKILL and writes the V8 CPU profile into DIR (with --no-failover, 10 s of the steady phase)
 *   --no-failover  the leader is not killed (so that it stops normally, and writes its profile)
 *   --heap-snapshot-dir DIR  every replica writes a V8 heap snapshot into DIR once the fleet holds its keys
 *   --replica-node-options "OPTS"  node options for every replica (V8 heap sizes, say: --max-old-space-size=384)
 *   --replicas-from built|tsx  run the replicas from dist/ as the image does (the default; built first when stale),
 *     or from the TypeScript through tsx (which holds ~80 MB more per replica)
 *   --agent-nice N  the agent processes run at this nice level (1-19): in a cluster the pods run on other machines,
 *                   here they take the CPU the coordinators are measured with (CPU hogs keep the normal level)
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism, loadavg, setPriority } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSecrets } from '../support/coordinator-fixture.js';
import { builtCliEntry } from '../support/built-cli.js';
import { TestCluster } from '../support/cluster-fixture.js';
import { tempDir } from '../support/temp-dir.js';
import { benchNumber } from './bench-options.js';
import { monotonicUs } from './cpu-profile-summary.js';
import { benchKeystores } from './fleet-keys.js';
import type { AgentsCommand, AgentsConfig, AgentsReport } from './fleet-agents.js';

const pods = benchNumber('pods', 300);
const keys = benchNumber('keys', pods);
const ttlMs = benchNumber('ttl-ms', 10_000);
const holdSeconds = benchNumber('hold-s', 20);
const floodSeconds = benchNumber('flood-s', 10);
const floodInFlight = benchNumber('flood-in-flight', 64);
/** Streams each agent process floods over: by default one per renewal in flight, each carrying one at a time as an agent's does. */
const floodStreams = benchNumber('flood-streams', floodInFlight);
const agentProcs = benchNumber('agent-procs', Math.max(1, Math.ceil(pods / 2500)));
const claimTimeoutSeconds = benchNumber('claim-timeout-s', 1800);
/** Pods started a second across the fleet (a paced rollout); 0 starts every pod at once. */
const startPerSecond = benchNumber('start-per-s', 0);
const agentNice = benchNumber('agent-nice', 0);
if (!Number.isInteger(agentNice) || agentNice < 0 || agentNice > 19) throw new Error(`--agent-nice ${agentNice}: give a nice level from 0 (none) to 19`);
const cpuHog = process.argv.includes('--cpu-hog');
const replicaLogsAt = process.argv.indexOf('--replica-logs');
const replicaLogs = replicaLogsAt === -1 ? null : process.argv[replicaLogsAt + 1]!;
const cpuProfAt = process.argv.indexOf('--cpu-prof-dir');
const cpuProfDir = cpuProfAt === -1 ? null : process.argv[cpuProfAt + 1]!;
const agentCpuProfAt = process.argv.indexOf('--agent-cpu-prof-dir');
const agentCpuProfDir = agentCpuProfAt === -1 ? null : process.argv[agentCpuProfAt + 1]!;
const failover = !process.argv.includes('--no-failover');
/** How long the agents' processes are profiled with --agent-cpu-prof-dir. */
const AGENT_PROFILE_SECONDS = 10;
const heapSnapshotAt = process.argv.indexOf('--heap-snapshot-dir');
const heapSnapshotDir = heapSnapshotAt === -1 ? null : process.argv[heapSnapshotAt + 1]!;
const nodeOptionsAt = process.argv.indexOf('--replica-node-options');
const replicaNodeOptions = nodeOptionsAt === -1 ? [] : process.argv[nodeOptionsAt + 1]!.split(/\s+/).filter(Boolean);
const replicasFromAt = process.argv.indexOf('--replicas-from');
const replicasFrom = replicasFromAt === -1 ? 'built' : process.argv[replicasFromAt + 1]!;
if (replicasFrom !== 'built' && replicasFrom !== 'tsx') throw new Error(`--replicas-from ${replicasFrom}: say built (dist/, as the image runs) or tsx (the TypeScript)`);
if (keys % pods !== 0) throw new Error(`--keys ${keys} must be a multiple of --pods ${pods}: every pod claims the same number`);
const keysPerPod = keys / pods;

const percentile = (values: number[], p: number) => {
  const sorted = Float64Array.from(values).sort();
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const max = (values: number[]) => values.reduce((a, b) => (b > a ? b : a), -Infinity);
const row = (label: string, values: number[]) =>
  console.log(`  ${label.padEnd(34)} ${String(values.length).padStart(7)}  p50 ${percentile(values, 50).toFixed(2).padStart(8)} ms  p99 ${percentile(values, 99).toFixed(2).padStart(8)} ms  max ${max(values).toFixed(2).padStart(8)} ms`);
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const seconds = (fromMs: number) => ((performance.now() - fromMs) / 1000).toFixed(2);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const waitUntil = async (condition: () => boolean, timeoutMs: number, what: string) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
};

/** Resident set size of a process now and at its peak (VmHWM), in MB. */
function rssMb(pid: number): { now: number; peak: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { now: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** CPU seconds a process has used (user + system), from /proc: what a load-independent capacity is judged by. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat, in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The replica's V8 heap in use and its memory outside the heap (buffers), in MB, from its /metrics; null if it does not answer. */
async function heapMb(httpBase: string): Promise<{ heap: number; heapCommitted: number; external: number } | null> {
  const text = await fetch(`${httpBase}/metrics`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.text()).catch(() => null);
  if (text === null) return null;
  const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
  return { heap: gauge('keylease_process_nodejs_heap_size_used_bytes'), heapCommitted: gauge('keylease_process_nodejs_heap_size_total_bytes'), external: gauge('keylease_process_nodejs_external_memory_bytes') };
}

/**
 * Renewals the replica answered OK so far, and those of them it answered only after a quorum round
 * (its leader lease had lapsed), from its /metrics.
 */
async function renewalsAnswered(httpBase: string): Promise<{ ok: number; quorumConfirmed: number }> {
  const response = await fetch(`${httpBase}/metrics`, { signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${httpBase}/metrics answered ${response.status}: ${text.slice(0, 200)}`);
  let ok = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('keylease_request_duration_seconds_count{') && line.includes('operation="renew"') && line.includes('outcome="ok"')) ok += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  const quorumConfirmed = Number(/^keylease_renewals_quorum_confirmed_total (\S+)/m.exec(text)?.[1] ?? NaN);
  return { ok, quorumConfirmed };
}

/** Renewals (Renew calls and stream messages) the replica answered so far, by outcome, from its /metrics; empty if it does not answer. */
async function renewalOutcomes(httpBase: string): Promise<Map<string, number>> {
  const outcomes = new Map<string, number>();
  const text = await fetch(`${httpBase}/metrics`, { signal: AbortSignal.timeout(30_000) }).then((r) => r.text()).catch(() => '');
  for (const line of text.split('\n')) {
    if (!line.startsWith('keylease_request_duration_seconds_count{') || !line.includes('operation="renew"')) continue;
    const outcome = /outcome="([^"]*)"/.exec(line)?.[1] ?? '?';
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return outcomes;
}

/** The replica's histogram of renewals it answered OK (its own time on each, from reading to answering): count per bucket bound, cumulative. */
async function renewalBuckets(httpBase: string): Promise<Map<string, number>> {
  const buckets = new Map<string, number>();
  const text = await fetch(`${httpBase}/metrics`, { signal: AbortSignal.timeout(30_000) }).then((r) => r.text()).catch(() => '');
  for (const line of text.split('\n')) {
    if (!line.startsWith('keylease_request_duration_seconds_bucket{') || !line.includes('operation="renew"') || !line.includes('outcome="ok"')) continue;
    const bound = /le="([^"]*)"/.exec(line)?.[1] ?? '?';
    buckets.set(bound, Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return buckets;
}

/** The bucket bound under which `share` of the renewals between two readings fall (what the histogram can tell of a percentile). */
function bucketPercentile(before: Map<string, number>, after: Map<string, number>, share: number): string {
  const total = (after.get('+Inf') ?? 0) - (before.get('+Inf') ?? 0);
  for (const [bound, count] of after) if (count - (before.get(bound) ?? 0) >= share * total) return bound === '+Inf' ? 'over the largest bucket' : `≤ ${Number(bound) * 1000} ms`;
  return '?';
}

/** The difference of two readings, as the bench prints it. */
function answeredSince(before: { ok: number; quorumConfirmed: number }, after: { ok: number; quorumConfirmed: number }): { ok: number; quorumConfirmed: number } {
  return { ok: after.ok - before.ok, quorumConfirmed: after.quorumConfirmed - before.quorumConfirmed };
}

console.log(`fleet bench: ${pods} pods × ${keysPerPod} keys = ${keys} keys, lease TTL ${ttlMs} ms (renewal every ~${Math.round(ttlMs / 3)} ms), 3 replicas + ${agentProcs} agent processes on ${availableParallelism()} cores, pods started ${startPerSecond > 0 ? `${startPerSecond}/s` : 'all at once'}${agentNice > 0 ? `, agents at nice ${agentNice}` : ''}${cpuHog ? `, beside ${availableParallelism()} CPU hogs` : ''}`);
console.log(`  load average at start: ${load()}`);

const keystores = await benchKeystores(keys, (line) => console.log(`  ${line}`));
const dir = await tempDir('bench-fleet');
const secrets = await writeSecrets(dir.path);
const cluster = await TestCluster.create(dir.path, secrets, ['r1', 'r2', 'r3'], [
  '--tick-ms', '100', '--lease-ttl-ms', String(ttlMs), '--cooling-ms', '0', '--max-keys-per-claim', String(keysPerPod), '--pool-max-keys', String(keys), '--log-level', 'info',
]);
if (replicasFrom === 'built') cluster.entry = builtCliEntry((line) => console.log(`  ${line}`));
console.log(`  replicas run ${replicasFrom === 'built' ? `the built CLI (${cluster.entry.join(' ')})` : 'the TypeScript through tsx'}${replicaNodeOptions.length > 0 ? ` with node options ${replicaNodeOptions.join(' ')}` : ''}, with MALLOC_ARENA_MAX=2 as the StatefulSet sets`);
// As the StatefulSet runs them (k8s/base/coordinator/statefulset.yaml): glibc keeps freed pages per malloc arena.
cluster.env = { MALLOC_ARENA_MAX: '2' };
cluster.nodeArgs = [
  ...replicaNodeOptions,
  ...(cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : []),
  ...(heapSnapshotDir ? ['--heapsnapshot-signal=SIGUSR2', '--diagnostic-dir', heapSnapshotDir] : []),
];
const agents: ChildProcess[] = [];
const hogs: ChildProcess[] = [];
/** Per agent process: the last count of pods holding their keys. */
const holding = new Map<ChildProcess, number>();
const renewMs = { steady: [] as number[], failover: [] as number[] };
const failed = { steady: 0, failover: 0 };
const fences = new Map<string, number>();
const problems = new Map<string, number>();
const peakRss = new Map<string, number>();
/** The agent processes' event loops, per report: busy share of the second, and the longest delay. */
const agentLoops: Array<{ atMs: number; utilization: number; delayMaxMs: number; cpuShare: number }> = [];
/** Per second from `fromMs`: the agents' mean loop utilization, their longest loop delay, and the cores they used together. */
const agentLoopLine = (fromMs: number, toMs: number) => {
  const parts: string[] = [];
  for (let at = fromMs; at < toMs; at += 1000) {
    const inSecond = agentLoops.filter((l) => l.atMs >= at && l.atMs < at + 1000);
    if (inSecond.length === 0) continue;
    const busy = inSecond.reduce((n, l) => n + l.utilization, 0) / inSecond.length;
    const cores = (inSecond.reduce((n, l) => n + l.cpuShare, 0) / inSecond.length) * agentProcs;
    parts.push(`${((at - fromMs) / 1000).toFixed(0)} s ${(100 * busy).toFixed(0)} %/${max(inSecond.map((l) => l.delayMaxMs)).toFixed(0)} ms/${cores.toFixed(2)} cores`);
  }
  return parts.join(', ');
};
let rssTimer: NodeJS.Timeout | null = null;

// Replica logs are written as they come (a run stopped midway still leaves them).
const logsWritten = new Map<string, number>();
const flushLogs = () => {
  for (const [id, proc] of cluster.processes) {
    const lines = proc.lines.slice(logsWritten.get(id) ?? 0);
    logsWritten.set(id, (logsWritten.get(id) ?? 0) + lines.length);
    if (lines.length > 0) appendFileSync(join(replicaLogs!, `${id}.log`), lines.join('\n') + '\n');
  }
};
if (replicaLogs) mkdirSync(replicaLogs, { recursive: true });
const logsTimer = replicaLogs ? setInterval(flushLogs, 1000) : null;
const broadcast = (command: AgentsCommand) => agents.forEach((a) => a.connected && a.send(command));
const holdingNow = () => [...holding.values()].reduce((a, b) => a + b, 0);
const replicaRss = (id: string) => rssMb(cluster.processes.get(id)!.child.pid!);

try {
  await cluster.startAll();
  let leader = await cluster.leader();
  rssTimer = setInterval(() => {
    for (const [id, proc] of cluster.processes) {
      const rss = rssMb(proc.child.pid!);
      if (rss) peakRss.set(id, Math.max(peakRss.get(id) ?? 0, rss.now));
    }
  }, 250);
  const rssLine = async (label: string, leaderId: string) => {
    const heaps = await Promise.all(cluster.replicas.map((r) => (replicaRss(r.id) ? heapMb(r.httpBase) : Promise.resolve(null))));
    console.log(`  RSS ${label}: ${cluster.replicas.map((r, i) => `${r.id}${r.id === leaderId ? ' (leader)' : ''} ${replicaRss(r.id)?.now.toFixed(0) ?? 'gone'} MB${heaps[i] ? ` (heap ${heaps[i]!.heap.toFixed(0)} used of ${heaps[i]!.heapCommitted.toFixed(0)}, external ${heaps[i]!.external.toFixed(0)})` : ''}`).join(', ')} (load ${load()})`);
  };
  await rssLine('before any key', leader);
  // Terms and leaders each replica saw: a fleet that keeps its leader stays in the term it started in.
  const leadershipLine = async (label: string) => {
    const statuses = await Promise.all(cluster.replicas.map((r) => cluster.status(r.id)));
    const seen = cluster.replicas.map((r, i) => `${r.id} ${statuses[i] ? `term ${statuses[i]!.term}, ${(statuses[i] as unknown as { leaderChanges: number }).leaderChanges} leaders seen` : 'gone'}`);
    console.log(`  leadership ${label}: ${seen.join('; ')} (first leader: term ${firstTerm})`);
  };
  const firstTerm = (await cluster.status(leader))?.term ?? NaN;

  // Seeding: the admin Keymanager import on the leader, in batches (a key imported twice is a duplicate,
  // so a batch cut short by a change of leader is simply sent again to the next one).
  const seeded = performance.now();
  const BATCH = 1000;
  for (let at = 0; at < keystores.length; ) {
    const batch = keystores.slice(at, at + BATCH);
    const importer = await cluster.leader();
    const token = (await readFile(join(cluster.spec(importer).dataDir, 'api-token.txt'), 'utf8')).trim();
    const response = await fetch(`${cluster.spec(importer).httpBase}/eth/v1/keystores`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ keystores: batch.map((k) => k.keystore), passwords: batch.map((k) => k.password) }),
    }).catch((error: unknown) => ({ status: 0, text: async () => String(error) }));
    if (response.status === 200) at += BATCH;
    else console.log(`  import batch at ${at} failed (${response.status} ${(await response.text()).slice(0, 120).trim()}); sending it again`);
  }
  console.log(`  ${keys} keys imported in ${seconds(seeded)} s (seeding, not part of the fleet's figures)`);
  leader = await cluster.leader();
  await rssLine(`with ${keys} keys`, leader);

  if (cpuHog) for (let i = 0; i < availableParallelism(); i++) hogs.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));

  const endpoints = cluster.replicas.map((r) => r.grpcEndpoint);
  const started = performance.now();
  const perProc = Math.ceil(pods / agentProcs);
  const stopped: Array<Promise<number>> = [];
  const floods: Array<Array<Extract<AgentsReport, { type: 'flooded' }>>> = [];
  for (let p = 0; p < agentProcs; p++) {
    const first = p * perProc;
    const config: AgentsConfig = { endpoints, firstPod: first, pods: Math.min(perProc, pods - first), keysPerPod, requestTimeoutMs: 20_000, startPerSecond: startPerSecond / agentProcs, cpuProfileDir: agentCpuProfDir };
    const child = fork(fileURLToPath(new URL('./fleet-agents.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], env: { ...process.env, KEYLEASE_BENCH_AGENTS: JSON.stringify(config) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    if (agentNice > 0) setPriority(child.pid!, agentNice);
    agents.push(child);
    holding.set(child, 0);
    stopped.push(
      new Promise((resolve) => {
        child.on('message', (report: AgentsReport) => {
          if (report.type === 'tick') {
            holding.set(child, report.holding);
            agentLoops.push({ atMs: performance.now(), ...report.loop });
            for (const phase of ['steady', 'failover'] as const) {
              for (const ms of report.renewMs[phase]) renewMs[phase].push(ms);
              failed[phase] += report.failed[phase];
            }
            for (const fence of report.fences) fences.set(fence, (fences.get(fence) ?? 0) + 1);
            for (const [message, count] of Object.entries(report.problems)) problems.set(message, (problems.get(message) ?? 0) + count);
          } else if (report.type === 'flooded') floods.at(-1)!.push(report);
          else resolve(report.handedBack);
        });
        child.on('exit', () => resolve(0));
      }),
    );
  }
  // Progress every 15 s; past --claim-timeout-s the bench goes on with the pods that hold keys by then.
  const claimDeadline = performance.now() + claimTimeoutSeconds * 1000;
  let progressAt = performance.now();
  while (holdingNow() < pods && performance.now() < claimDeadline) {
    await sleep(250);
    if (performance.now() - progressAt >= 15_000) {
      progressAt = performance.now();
      console.log(`    ${seconds(started)} s: ${holdingNow()} of ${pods} pods hold their keys (load ${load()})`);
    }
  }
  if (holdingNow() === pods) console.log(`  every pod holding its keys after ${seconds(started)} s (${(pods / Number(seconds(started))).toFixed(0)} claims/s; load ${load()})`);
  else console.log(`  NOT every pod held its keys within ${claimTimeoutSeconds} s: ${holdingNow()} of ${pods} do; going on with them (load ${load()})`);
  // Leadership may have changed while the fleet claimed: the steady figures and the SIGKILL are the current leader's.
  leader = await cluster.leader();
  await rssLine(`with ${pods} pods holding`, leader);
  if (heapSnapshotDir) {
    for (const proc of cluster.processes.values()) proc.child.kill('SIGUSR2');
    console.log(`  heap snapshots asked for, into ${heapSnapshotDir} (a replica pauses while it writes one)`);
  }

  // Steady: renewals at the fleet's own pace.
  renewMs.steady.length = 0;
  const leaderPid = cluster.processes.get(leader)!.child.pid!;
  let counted = await renewalsAnswered(cluster.spec(leader).httpBase);
  let countedAt = performance.now();
  let cpuAt = cpuSeconds(leaderPid);
  if (agentCpuProfDir && !failover) broadcast({ type: 'profile', seconds: AGENT_PROFILE_SECONDS });
  await sleep(holdSeconds * 1000);
  const steady = answeredSince(counted, await renewalsAnswered(cluster.spec(leader).httpBase));
  const steadyAnswered = steady.ok;
  const steadyWindow = (performance.now() - countedAt) / 1000;
  const steadyCpu = cpuSeconds(leaderPid) - cpuAt;
  console.log(`  steady ${holdSeconds} s: the leader answered ${(steadyAnswered / steadyWindow).toFixed(0)} renewals/s by its metrics, the agents saw ${(renewMs.steady.length / steadyWindow).toFixed(0)}/s succeed (the fleet's pace: ~${(pods / (ttlMs / 3000)).toFixed(0)}/s); leader CPU ${(100 * steadyCpu / steadyWindow).toFixed(0)} % of a core, ${((1e6 * steadyCpu) / Math.max(1, steadyAnswered)).toFixed(0)} µs per renewal; ${steady.quorumConfirmed} renewals waited for a quorum round, the leader lease having lapsed (load ${load()})`);

  console.log(`  the agents' event loops in the steady phase (busy share / longest delay / cores used by all agents): ${agentLoopLine(countedAt, performance.now())}`);
  // Flood: every agent process renews its leases back to back at the leader (renewal-flood.ts), on top of the fleet's pace.
  if (floodSeconds > 0) {
    floods.push([]);
    counted = await renewalsAnswered(cluster.spec(leader).httpBase);
    countedAt = performance.now();
    cpuAt = cpuSeconds(leaderPid);
    broadcast({ type: 'flood', leaderEndpoint: cluster.spec(leader).grpcEndpoint, seconds: floodSeconds, inFlight: floodInFlight, streams: floodStreams });
    await waitUntil(() => floods.at(-1)!.length === agents.length, (floodSeconds + 60) * 1000, 'the flood to end');
    const flooded = answeredSince(counted, await renewalsAnswered(cluster.spec(leader).httpBase));
    const floodAnswered = flooded.ok;
    const floodWindow = (performance.now() - countedAt) / 1000;
    const floodCpu = cpuSeconds(leaderPid) - cpuAt;
    const floodRate = floodAnswered / floodWindow;
    console.log(`  flood: leader CPU ${(100 * floodCpu / floodWindow).toFixed(0)} % of a core, ${((1e6 * floodCpu) / Math.max(1, floodAnswered)).toFixed(0)} µs per renewal answered: one core would answer ~${(floodAnswered / Math.max(floodCpu, 1e-9)).toFixed(0)}/s`);
    const flood = floods.at(-1)!;
    const latencies = flood.flatMap((f) => f.latenciesMs);
    const floodSeen = flood.reduce((n, f) => n + f.renewals, 0) / floodSeconds;
    console.log(`  flood ${floodSeconds} s, ${floodInFlight} in flight on ${Math.min(floodStreams, floodInFlight)} streams × ${agents.length} processes: the leader answered ${floodRate.toFixed(0)} renewals/s by its metrics, ${floodSeen.toFixed(0)}/s flooded ones the agents saw succeed (plus the fleet's own); ${flood.reduce((n, f) => n + f.failures, 0)} failed; ${flooded.quorumConfirmed} waited for a quorum round (load ${load()})`);
    row('flooded renewals', latencies);
    const floodProblems = new Map<string, number>();
    for (const f of flood) for (const [problem, count] of Object.entries(f.problems)) floodProblems.set(problem, (floodProblems.get(problem) ?? 0) + count);
    for (const [problem, count] of [...floodProblems].sort((a, b) => b[1] - a[1]).slice(0, 5)) console.log(`    flood: ${count} × ${problem}`);
  }
  await rssLine('after the steady phase and flood', leader);
  await leadershipLine('before the failover');

  // Failover under the fleet's load: strike a third of a renewal interval after a steady stretch.
  let next = leader;
  if (failover) {
    await sleep(ttlMs / 3);
    broadcast({ type: 'phase', phase: 'failover' });
    await sleep(200);
    const survivors = cluster.replicas.map((r) => r.id).filter((id) => id !== leader);
    const outcomesBefore = await Promise.all(survivors.map((id) => renewalOutcomes(cluster.spec(id).httpBase)));
    const bucketsBefore = await Promise.all(survivors.map((id) => renewalBuckets(cluster.spec(id).httpBase)));
    const killedAt = performance.now();
    if (cpuProfDir || agentCpuProfDir) console.log(`  SIGKILL at ${monotonicUs()} µs on the CPU profiles' clock`);
    if (agentCpuProfDir) broadcast({ type: 'profile', seconds: AGENT_PROFILE_SECONDS });
    await cluster.processes.get(leader)!.kill('SIGKILL');
    next = await cluster.leader(survivors, 30_000);
    const failoverSeconds = seconds(killedAt);
    console.log(`  SIGKILL of leader ${leader}; ${next} leads after ${failoverSeconds} s (load ${load()})`);
    // How fast the new leader works through the fleet: renewals it answered OK, read every half second.
    const timeline: string[] = [];
    const okBefore = outcomesBefore[survivors.indexOf(next)]?.get('ok') ?? 0;
    while (performance.now() - killedAt < 2 * ttlMs) {
      const ok = (await renewalOutcomes(cluster.spec(next).httpBase)).get('ok');
      if (ok !== undefined && timeline.length < 24) timeline.push(`${seconds(killedAt)} s ${ok - okBefore}`);
      await sleep(500);
    }
    console.log(`  renewals the new leader answered OK since the SIGKILL: ${timeline.join(', ')}`);
    console.log(`  the agents' event loops since the SIGKILL (busy share / longest delay / cores used by all agents): ${agentLoopLine(killedAt, killedAt + 2 * ttlMs)}`);
    // Where the fleet's renewals went across the failover, and how each survivor answered them.
    const outcomesAfter = await Promise.all(survivors.map((id) => renewalOutcomes(cluster.spec(id).httpBase)));
    const answered = survivors.map((id, i) => `${id}${id === next ? ' (new leader)' : ''} ${[...outcomesAfter[i]!].map(([outcome, n]) => [outcome, n - (outcomesBefore[i]!.get(outcome) ?? 0)] as const).filter(([, n]) => n > 0).map(([outcome, n]) => `${outcome} ${n}`).join(', ') || 'none'}`);
    const confirmedByQuorum = (await renewalsAnswered(cluster.spec(next).httpBase).catch(() => null))?.quorumConfirmed ?? NaN;
    console.log(`  renewals answered across the failover, by outcome: ${answered.join('; ')}; the new leader had ${confirmedByQuorum} wait for a quorum round`);
    // The new leader's own time on each renewal, from reading it to answering: what the agents saw less
    // the time in sockets and in their own (and the leader's) queued event loops.
    const bucketsAfter = await renewalBuckets(cluster.spec(next).httpBase);
    const leaderBefore = bucketsBefore[survivors.indexOf(next)]!;
    console.log(`  the new leader's own time per renewal answered OK across the failover (its histogram): p50 ${bucketPercentile(leaderBefore, bucketsAfter, 0.5)}, p99 ${bucketPercentile(leaderBefore, bucketsAfter, 0.99)}`);
    await rssLine('after the failover', next);
    await leadershipLine('after the failover');
    await sleep(1500);
  }

  console.log('renewals (ms, as each agent saw them):');
  row(`steady, ${holdSeconds} s (+ flood)`, renewMs.steady);
  row(`across the failover, ${(2 * ttlMs) / 1000} s`, renewMs.failover);
  console.log(`  failed attempts (retried): steady ${failed.steady}, across the failover ${failed.failover}; renewal p99 across the failover is ${(percentile(renewMs.failover, 99) / ttlMs * 100).toFixed(1)} % of the TTL (target < 10 %)`);
  const fenceCount = [...fences.values()].reduce((a, b) => a + b, 0);
  console.log(`  fences: ${fenceCount}${fenceCount > 0 ? ` (${[...fences].map(([k, n]) => `${k} ${n}`).join(', ')})` : ''}; pods holding now: ${holdingNow()} of ${pods}`);
  console.log(`  peak RSS: ${cluster.replicas.map((r) => `${r.id}${r.id === leader ? ' (first leader)' : r.id === next ? ' (second leader)' : ''} ${(peakRss.get(r.id) ?? NaN).toFixed(0)} MB`).join(', ')}`);
  if (problems.size > 0) {
    console.log('agent warnings, by message:');
    for (const [message, count] of [...problems].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`  ${String(count).padStart(7)}  ${message}`);
  }

  const stopping = performance.now();
  broadcast({ type: 'stop' });
  const released = (await Promise.all(stopped)).reduce((a, b) => a + b, 0);
  console.log(`  every pod released in ${seconds(stopping)} s (${released} of ${pods} handed back)`);
} finally {
  if (rssTimer) clearInterval(rssTimer);
  for (const child of [...agents, ...hogs]) if (child.exitCode === null) child.kill('SIGKILL');
  // A profile is written only by a replica that stops normally.
  if (cpuProfDir) await Promise.race([Promise.all([...cluster.processes.values()].map((p) => p.kill('SIGTERM'))), sleep(30_000)]);
  await cluster.stopAll();
  if (logsTimer) clearInterval(logsTimer);
  if (replicaLogs) {
    flushLogs();
    console.log(`  replica logs in ${replicaLogs}`);
  }
  await dir.cleanup();
}
