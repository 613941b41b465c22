import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILT_CLI = join(ROOT, 'dist/cli/keylease.js');
/** The folders `npm run build` compiles into dist/. */
const SOURCE_DIRS = ['cli', 'coordinator', 'agent', 'shared'];

function newestSourceMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMs(path));
    else if (entry.name.endsWith('.ts') || entry.name.endsWith('.json') || entry.name.endsWith('.proto')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * The node arguments that start the compiled CLI in dist/, which is what the image runs (a replica
 * started through tsx holds its compiler and source maps too). dist/ is built first when it is missing
 * or older than a source file; `log` says which.
 */
export function builtCliEntry(log: (line: string) => void): readonly string[] {
  const builtMs = existsSync(BUILT_CLI) ? statSync(BUILT_CLI).mtimeMs : 0;
  const sourceMs = Math.max(...SOURCE_DIRS.map((dir) => newestSourceMs(join(ROOT, dir))));
  if (builtMs < sourceMs) {
    log(builtMs === 0 ? 'dist/ is missing: npm run build' : 'dist/ is older than the sources: npm run build');
    const built = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (built.status !== 0) throw new Error(`npm run build failed (exit ${built.status ?? built.signal}): fix the build, or pass --replicas-from tsx`);
  }
  return [BUILT_CLI];
}
