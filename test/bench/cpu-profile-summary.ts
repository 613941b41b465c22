import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/**
 * A span in microseconds of the machine's monotonic clock, which V8 stamps profile samples with on
 * Linux, as `process.hrtime.bigint() / 1000n` reads it in any process.
 */
export interface MonotonicWindow {
  readonly fromUs: number;
  readonly toUs: number;
}

/** Now on the clock profile samples are stamped with. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export interface ProfileSummary {
  readonly wallMs: number;
  readonly busyMs: number;
  /** Self time by area (our modules, a dependency, node internals, GC, idle), largest first. */
  readonly byArea: ReadonlyArray<readonly [string, number]>;
  /** Self time by function, largest first. */
  readonly byFunction: ReadonlyArray<readonly [string, number]>;
  /** Inclusive time of the functions named in `inclusiveOf`, by name. */
  readonly inclusive: ReadonlyArray<readonly [string, number]>;
}

/** Where a function's self time is booked: by the file it lives in. */
function areaOf(url: string, functionName: string): string {
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(garbage collector)') return '(gc)';
  if (functionName === '(program)') return '(program: native, unattributed)';
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency) return dependency[1]!;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/').slice(0, 2).join('/');
  const ours = /\/(coordinator|shared|agent|cli)\/(.*?)\/?[^/]*$/.exec(url);
  if (ours) return `${ours[1]}/${ours[2]}`;
  return url === '' ? `(native: ${functionName || 'anonymous'})` : url;
}

/**
 * Self and inclusive time of a V8 .cpuprofile (as written by `node --cpu-prof`), so a benchmark can
 * say where a replica's milliseconds went.
 */
export function summariseCpuProfile(file: string, inclusiveOf: readonly string[] = [], window: MonotonicWindow | null = null): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<number, number>();
  let at = profile.startTime;
  let first = Infinity;
  let last = -Infinity;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (window && (at < window.fromUs || at > window.toUs)) return;
    first = Math.min(first, at);
    last = Math.max(last, at);
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });

  const area = new Map<string, number>();
  const fn = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busyMs = 0;
  for (const [id, ms] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const where = areaOf(url, functionName);
    area.set(where, (area.get(where) ?? 0) + ms);
    if (where !== '(idle)') busyMs += ms;
    const name = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules\/)?/, '')}:${lineNumber + 1}`;
    fn.set(name, (fn.get(name) ?? 0) + ms);
    // Inclusive: book the sample once on every named function on its stack.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frameName = byId.get(at)!.callFrame.functionName;
      if (inclusiveOf.includes(frameName) && !seen.has(frameName)) {
        seen.add(frameName);
        inclusive.set(frameName, (inclusive.get(frameName) ?? 0) + ms);
      }
    }
  }
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return { wallMs: (last - first) / 1000, busyMs, byArea: sorted(area), byFunction: sorted(fn), inclusive: sorted(inclusive) };
}

/** The summary as text: the `top` areas and functions by self time, then the inclusive times. */
export function formatProfileSummary(name: string, summary: ProfileSummary, top = 25): string {
  const pct = (ms: number) => `${((100 * ms) / summary.busyMs).toFixed(1).padStart(5)} %`;
  const lines = [`${name}: ${summary.busyMs.toFixed(0)} ms busy of ${summary.wallMs.toFixed(0)} ms`];
  lines.push('  self time by area:');
  for (const [where, ms] of summary.byArea.filter(([w]) => w !== '(idle)').slice(0, top)) lines.push(`    ${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${where}`);
  lines.push('  self time by function:');
  for (const [where, ms] of summary.byFunction.filter(([w]) => !w.startsWith('(idle)')).slice(0, top)) lines.push(`    ${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${where}`);
  if (summary.inclusive.length > 0) {
    lines.push('  inclusive time:');
    for (const [where, ms] of summary.inclusive) lines.push(`    ${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${where}`);
  }
  return lines.join('\n');
}
