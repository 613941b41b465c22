/**
 * Runs every test file (test/**\/*.test.ts) in its own Node process (two at a time on machines with more
 * than two cores), and ends with the plain line "N passed, N failed". A file that crashes before uvu prints its totals counts as one failure.
 * Usage: tsx test/run.ts [substring-filter...]
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);

function findTests(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  skipped: number;
  seconds: number;
  output: string;
}

function runFile(file: string): Promise<FileResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, env: { ...process.env, FORCE_COLOR: '0' } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => {
      const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? NaN);
      const passed = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? NaN);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(output)?.[1] ?? 0);
      const seconds = (performance.now() - started) / 1000;
      const rel = relative(root, file);
      if (Number.isNaN(total) || Number.isNaN(passed)) {
        resolve({ file: rel, passed: 0, failed: 1, skipped: 0, seconds, output });
        return;
      }
      // uvu's Total leaves skipped tests out already.
      const failed = total - passed + (code !== 0 && total === passed ? 1 : 0);
      resolve({ file: rel, passed, failed, skipped, seconds, output });
    });
  });
}

const files = findTests(join(root, 'test'))
  // test/k8s needs a kube-apiserver built first: `npm run test:k8s` runs it (by naming it as a filter);
  // test/e2e runs only on its node cluster, through `npm run test:e2e`.
  .filter((f) => !f.includes(`${join('test', 'e2e')}/`))
  .filter((f) => (filters.length === 0 ? !f.includes(`${join('test', 'k8s')}/`) : filters.some((s) => f.includes(s))))
  .sort();
const results: FileResult[] = [];
const queue = [...files];
// Many files start several processes each: on a 2-core machine, one file at a time keeps timing-bound
// tests (fences, elections) honest; bigger machines run two.
const workers = Array.from({ length: availableParallelism() > 2 ? 2 : 1 }, async () => {
  for (let file = queue.shift(); file; file = queue.shift()) {
    const result = await runFile(file);
    results.push(result);
    const mark = result.failed > 0 ? 'FAIL' : 'ok  ';
    process.stdout.write(`${mark} ${result.file}  ${result.passed} passed, ${result.failed} failed${result.skipped > 0 ? `, ${result.skipped} SKIPPED` : ''}  (${result.seconds.toFixed(1)} s)\n`);
    if (result.failed > 0) process.stdout.write(result.output.replace(/^/gm, '    | ') + '\n');
  }
});
await Promise.all(workers);

const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
const skipped = results.reduce((n, r) => n + r.skipped, 0);
process.stdout.write(`\n${files.length} test files\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped (see SKIPPED above)` : ''}\n`);
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0;
