/**
 * `npm run build`: compiles the TypeScript the CLI runs into dist/ (or the directory given). The image runs
 * only this output. The agent, which runs in every validator pod, is then bundled: dist/agent/main.js is one
 * file with its dependencies inside (and a chunk the signer mode loads), which starts faster and holds less
 * memory than the hundreds of modules it would otherwise resolve and load one by one.
 *   npx tsx scripts/build.ts [OUT_DIR]
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = resolve(process.argv[2] ?? join(root, 'dist'));
/** Packages that load a compiled addon from their own folder: the bundle leaves them in node_modules. */
const NATIVE_PACKAGES = ['@chainsafe/blst', 'classic-level'];

rmSync(outDir, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', outDir], { stdio: 'inherit' });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);

const agentDir = join(outDir, 'agent');
rmSync(agentDir, { recursive: true });
await build({
  entryPoints: { main: join(root, 'agent/main.ts') },
  outdir: agentDir,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // grpc-js requires proto-loader only to serve channelz and ORCA, which the agent never does.
  external: [...NATIVE_PACKAGES, '@grpc/proto-loader'],
  // CommonJS dependencies inside an ES module bundle still call require() for Node's own modules.
  banner: { js: "import { createRequire as keyleaseCreateRequire } from 'node:module'; const require = keyleaseCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
