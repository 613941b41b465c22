/**
 * The value of one sample in Prometheus text format, by metric name and (all of) its labels; undefined
 * when there is no such sample.
 */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels);
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (Object.keys(present).length === wanted.length && wanted.every(([key, value]) => present[key] === value)) return Number(match[3]);
  }
  return undefined;
}

/** Fetches a /metrics page and reads one sample from it. */
export async function scrape(url: string): Promise<(name: string, labels?: Record<string, string>) => number | undefined> {
  const text = await (await fetch(url)).text();
  return (name, labels) => sampleValue(text, name, labels);
}
