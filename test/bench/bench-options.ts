/** `--name VALUE` from a benchmark's command line (after `npm run bench:x --`), or the fallback. */
export function benchOption(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  const at = args.indexOf(`--${name}`);
  return at === -1 || args[at + 1] === undefined ? fallback : args[at + 1]!;
}

/** A numeric `--name N`; a value that is not a number stops the benchmark, saying which. */
export function benchNumber(name: string, fallback: number): number {
  const value = Number(benchOption(name, String(fallback)));
  if (!Number.isFinite(value)) throw new Error(`--${name} must be a number`);
  return value;
}
