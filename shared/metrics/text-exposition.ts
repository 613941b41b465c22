/**
 * A few counters, gauges and histograms in Prometheus' text exposition format (version 0.0.4). The agent
 * runs in every validator pod and exports a handful of series, so it writes the format itself rather than
 * load a metrics library (prom-client costs the sidecar about 10 MiB and 60 ms at start).
 */

export const TEXT_EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  lines(): string[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const escapeHelp = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabelValue = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function labelText(labels: Labels): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

function numberText(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

export class Counter<L extends string> {
  private readonly values = new Map<string, { labels: Labels; value: number }>();

  constructor(private readonly labelNames: readonly L[]) {}

  inc(labels: Readonly<Record<L, string>>, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`a counter only goes up; got ${by}`);
    const ordered: Record<string, string> = {};
    for (const name of this.labelNames) ordered[name] = labels[name];
    const key = labelText(ordered);
    const entry = this.values.get(key);
    if (entry) entry.value += by;
    else this.values.set(key, { labels: ordered, value: by });
  }

  lines(name: string): string[] {
    return [...this.values.values()].map(({ labels, value }) => `${name}${labelText(labels)} ${numberText(value)}`);
  }
}

export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(private readonly buckets: readonly number[]) {
    for (let i = 1; i < buckets.length; i++) if (!(buckets[i]! > buckets[i - 1]!)) throw new RangeError('histogram buckets must increase');
    this.counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  lines(name: string): string[] {
    const lines = this.buckets.map((bound, i) => `${name}_bucket{le="${numberText(bound)}"} ${this.counts[i]}`);
    lines.push(`${name}_bucket{le="+Inf"} ${this.count}`, `${name}_sum ${numberText(this.sum)}`, `${name}_count ${this.count}`);
    return lines;
  }
}

/** The families one process exports, in the order they were added. */
export class TextMetrics {
  private readonly families: Family[] = [];

  counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    const counter = new Counter(labelNames);
    this.add(name, help, 'counter', labelNames, () => counter.lines(name));
    return counter;
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    const histogram = new Histogram(buckets);
    this.add(name, help, 'histogram', [], () => histogram.lines(name));
    return histogram;
  }

  /** A gauge read at scrape time: `read` gives each series' labels and value. */
  gauge(name: string, help: string, read: () => ReadonlyArray<readonly [Labels, number]>): void {
    this.add(name, help, 'gauge', [], () => read().map(([labels, value]) => `${name}${labelText(labels)} ${numberText(value)}`));
  }

  names(): string[] {
    return this.families.map((family) => family.name);
  }

  render(): string {
    return this.families.map((f) => [`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`, ...f.lines()].join('\n') + '\n').join('');
  }

  private add(name: string, help: string, type: Family['type'], labelNames: readonly string[], lines: () => string[]): void {
    if (!METRIC_NAME.test(name)) throw new RangeError(`invalid metric name ${JSON.stringify(name)}`);
    for (const label of labelNames) if (!LABEL_NAME.test(label) || label === 'le') throw new RangeError(`invalid label name ${JSON.stringify(label)} on ${name}`);
    if (this.families.some((f) => f.name === name)) throw new RangeError(`metric ${name} is already registered`);
    this.families.push({ name, help, type, lines });
  }
}
