/**
 * One process of the fleet bench's agents: many pods' lease loops (the agent's own code) sharing one
 * coordinator client, so that ten thousand pods fit on one machine beside the coordinators they load.
 * Driven by its parent over IPC (see fleet.ts): it reports what its pods see each second and, on
 * request, floods the leader with renewals of the leases it holds (renewal-flood.ts) to find the rate the leader sustains.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance as perf } from 'node:perf_hooks';
import { AllocationChannels } from '../../agent/allocation-channels.js';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { LeaseLoop } from '../../agent/lease-loop.js';
import { systemClock } from '../../shared/clock/clock.js';
import { createLogger } from '../../shared/log/logger.js';
import { FleetObserver, InMemoryValidator } from '../support/fleet.js';
import { floodRenewals, type FloodResult } from './renewal-flood.js';

export interface AgentsConfig {
  readonly endpoints: readonly string[];
  readonly firstPod: number;
  readonly pods: number;
  readonly keysPerPod: number;
  readonly requestTimeoutMs: number;
  /** Pods this process starts a second, as a paced rollout would; 0 starts them all at once. */
  readonly startPerSecond: number;
  /** With a `profile` command, the V8 CPU profile of this process is written here. */
  readonly cpuProfileDir: string | null;
}

/** Parent → agents. */
export type AgentsCommand =
  | { readonly type: 'phase'; readonly phase: 'steady' | 'failover' }
  | { readonly type: 'flood'; readonly leaderEndpoint: string; readonly seconds: number; readonly inFlight: number; readonly streams: number }
  | { readonly type: 'profile'; readonly seconds: number }
  | { readonly type: 'stop' };

/** Agents → parent. */
export type AgentsReport =
  | { readonly type: 'tick'; readonly holding: number; readonly renewMs: { steady: number[]; failover: number[] }; readonly failed: { steady: number; failover: number }; readonly fences: readonly string[]; readonly problems: Record<string, number>; readonly loop: { readonly utilization: number; readonly delayMaxMs: number; readonly cpuShare: number } }
  | ({ readonly type: 'flooded' } & FloodResult)
  | { readonly type: 'stopped'; readonly handedBack: number };

// tsx turns on source-mapped stacks; an agent in a pod runs the built JavaScript without them. Left on,
// formatting the stacks of failed calls took a tenth of these processes' time across a failover.
process.setSourceMapsEnabled(false);
// One process here hosts thousands of pods' agents, and across a failover their failed calls numbered
// tens of thousands a second, each with a stack grpc-js formats and nobody reads: a pod's own agent
// fails a handful per failover. Without stacks the bench measures the coordinators, not stack traces.
Error.stackTraceLimit = 0;

const config = JSON.parse(process.env['KEYLEASE_BENCH_AGENTS'] ?? 'null') as AgentsConfig | null;
if (!config || !process.send) throw new Error('fleet-agents runs as a child of test/bench/fleet.ts');
const send = (report: AgentsReport) => process.send!(report);

/** What went wrong for the agents, by message: a fleet's failures are summarised, not printed one by one. */
const problems: Record<string, number> = {};
const logger = createLogger({
  level: 'warn',
  component: 'agent',
  sink: (line) => {
    const record = JSON.parse(line) as { msg: string; error?: string };
    const key = `${record.msg}${record.error ? `: ${record.error.replace(/lease-\d+/g, 'lease-N').replace(/validator-\d+/g, 'validator-N').replace(/\d+(\.\d+)?/g, 'N').slice(0, 160)}` : ''}`;
    problems[key] = (problems[key] ?? 0) + 1;
  },
});

const observer = new FleetObserver();
const loops: LeaseLoop[] = [];
// A client per pod, as each agent has its own (which replica it asks next, and its renewal stream, are
// its own business); the pods of this process share one channel per replica, so that the process keeps
// three channels rather than three per pod, and the bench measures the coordinators.
const channels = new AllocationChannels();
const clients: CoordinatorClient[] = [];
for (let i = config.firstPod; i < config.firstPod + config.pods; i++) {
  const client = new CoordinatorClient(config.endpoints, undefined, null, { channels });
  clients.push(client);
  const loop = new LeaseLoop({ podName: `validator-${i}`, pool: 'default', keyCount: config.keysPerPod, holder: new InMemoryValidator(), signingMode: 'signer', client, clock: systemClock, logger, fenceMarginMs: 0, requestTimeoutMs: config.requestTimeoutMs, observer: observer.forPod(i) });
  loops.push(loop);
}
void (async () => {
  for (let i = 0; i < loops.length; i++) {
    void loops[i]!.start();
    if (config.startPerSecond > 0 && i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 10_000 / config.startPerSecond));
  }
})();

let reportedFences = 0;
// How busy this process's event loop was: agents that share the machine's cores with the replicas can
// be the ones too slow to renew, and the bench must tell that apart from a slow coordinator.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
let loopUsage = perf.eventLoopUtilization();
let cpuUsage = process.cpuUsage();
let cpuAt = perf.now();
const ticker = setInterval(() => {
  const usage = perf.eventLoopUtilization(loopUsage);
  loopUsage = perf.eventLoopUtilization();
  const cpu = process.cpuUsage(cpuUsage);
  const cpuShare = (cpu.user + cpu.system) / 1000 / (perf.now() - cpuAt);
  cpuUsage = process.cpuUsage();
  cpuAt = perf.now();
  const loop = { utilization: usage.utilization, delayMaxMs: loopDelay.max / 1e6, cpuShare };
  loopDelay.reset();
  const renewMs = { steady: observer.renewMs.steady.splice(0), failover: observer.renewMs.failover.splice(0) };
  const failed = { ...observer.failedRenewals };
  observer.failedRenewals.steady = observer.failedRenewals.failover = 0;
  // Each as phase:cause, so a fence in the steady phase is told apart from one across the failover.
  const fences = observer.fences.slice(reportedFences);
  reportedFences = observer.fences.length;
  send({ type: 'tick', holding: loops.filter((l) => l.currentPhase === 'holding').length, renewMs, failed, fences, problems: { ...problems }, loop });
  for (const key of Object.keys(problems)) delete problems[key];
}, 1000);

/** Renews held leases back to back at the leader, `inFlight` at a time over `streams` streams, for `seconds`: extra renewals, harmless to the leases. */
async function flood(leaderEndpoint: string, seconds: number, inFlight: number, streams: number): Promise<void> {
  const held = loops.flatMap((loop, i) => (loop.leaseId === null ? [] : [{ podName: `validator-${config!.firstPod + i}`, leaseId: loop.leaseId }]));
  const result = await floodRenewals(leaderEndpoint, held, seconds, inFlight, streams);
  send({ type: 'flooded', ...result });
}

/** Profiles this process for `seconds` (the window asked for, not the whole run, which a killed process never writes). */
async function profile(seconds: number): Promise<void> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) => new Promise<unknown>((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.start');
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const { profile } = (await post('Profiler.stop')) as { profile: object };
  session.disconnect();
  const file = join(config!.cpuProfileDir!, `agents-${process.pid}.cpuprofile`);
  await mkdir(config!.cpuProfileDir!, { recursive: true });
  await writeFile(file, JSON.stringify(profile));
}

process.on('message', (command: AgentsCommand) => {
  if (command.type === 'phase') observer.phase = command.phase;
  else if (command.type === 'flood') void flood(command.leaderEndpoint, command.seconds, command.inFlight, command.streams);
  else if (command.type === 'profile') void profile(command.seconds).catch((error: unknown) => console.error(`agent process ${process.pid}: profiling failed: ${(error as Error).message}`));
  else if (command.type === 'stop') {
    void (async () => {
      const results = await Promise.all(loops.map((l) => l.stop()));
      clearInterval(ticker);
      send({ type: 'stopped', handedBack: results.filter((r) => r.handedBack).length });
      for (const client of clients) client.close();
      channels.close();
      loopDelay.disable();
      process.disconnect();
    })();
  }
});
