/**
 * `npm run build`: compiles the TypeScript the CLI runs into dist/ (or the directory given), with the
 * files the code reads beside itself at run time (the .proto contracts). The image runs only this output.
 *   npx tsx scripts/build.ts [OUT_DIR]
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = resolve(process.argv[2] ?? join(root, 'dist'));
/** Non-TypeScript files the compiled code loads by a path relative to itself. */
const ASSET_DIRS = [{ dir: 'shared/proto', suffix: '.proto' }];

rmSync(outDir, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', outDir], { stdio: 'inherit' });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);
for (const { dir, suffix } of ASSET_DIRS) {
  mkdirSync(join(outDir, dir), { recursive: true });
  for (const name of readdirSync(join(root, dir)).filter((n) => n.endsWith(suffix))) cpSync(join(root, dir, name), join(outDir, dir, name));
}
