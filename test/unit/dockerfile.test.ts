/**
 * The Dockerfile cannot be built on these machines (no Docker engine), so what a build would catch is
 * checked here: COPY sources exist, the build stage has every source the CLI compiles from, the image
 * holds compiled JavaScript and production dependencies only and every package a production command
 * loads is one, the user is non-root (and the one the manifests expect), no HEALTHCHECK.
 */
import { builtinModules } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../../', import.meta.url));
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

interface Instruction {
  readonly stage: number;
  readonly keyword: string;
  readonly args: string;
}

/** Instructions with continuation lines joined and comments dropped, numbered by build stage. */
function parseDockerfile(text: string): Instruction[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  let stage = -1;
  return lines.map((line) => {
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(line)!;
    if (keyword!.toUpperCase() === 'FROM') stage++;
    return { stage, keyword: keyword!.toUpperCase(), args: args! };
  });
}

const instructions = parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8'));
const finalStage = Math.max(...instructions.map((i) => i.stage));
const inStage = (stage: number, keyword: string) => instructions.filter((i) => i.stage === stage && i.keyword === keyword);
const inFinal = (keyword: string) => inStage(finalStage, keyword);
/** `FROM image AS name` stages by name. */
const stageNames = new Map(instructions.filter((i) => i.keyword === 'FROM').map((i) => [/\bAS\s+(\S+)/i.exec(i.args)?.[1] ?? String(i.stage), i.stage]));

/** COPY sources from the build context (not from another stage) and where they land in the image. */
const contextCopies = instructions
  .filter((i) => i.keyword === 'COPY' && !/--from=/.test(i.args))
  .map((i) => {
    const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
    return { stage: i.stage, sources: parts.slice(0, -1), destination: parts.at(-1)! };
  });

/** Where the final stage copies `path` from another stage: that stage's number. */
function finalCopyFrom(path: string): number {
  const copy = inFinal('COPY').find((i) => /--from=/.test(i.args) && i.args.split(/\s+/).includes(path));
  assert.ok(copy, `the image copies ${path} from a build stage`);
  const stage = stageNames.get(/--from=(\S+)/.exec(copy.args)![1]!);
  assert.ok(stage !== undefined, `COPY ${copy.args} names a stage of this Dockerfile`);
  return stage;
}

/** .dockerignore patterns (directories, one a line): what they name is not in the build context. */
const ignored = existsSync(join(root, '.dockerignore'))
  ? readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim().replace(/\/$/, '')).filter((l) => l && !l.startsWith('#'))
  : [];

test('every COPY source exists in the build context, and .dockerignore keeps none of them out', () => {
  assert.ok(contextCopies.length > 0);
  for (const copy of contextCopies) {
    for (const source of copy.sources) {
      assert.ok(existsSync(join(root, source)), `COPY ${source}: no such file or directory`);
      assert.not.ok(ignored.some((i) => source === i || source.startsWith(i + '/')), `COPY ${source}, but .dockerignore leaves it out of the context`);
    }
  }
});

test('the image\'s dependencies are the production ones, installed from the lockfile, keeping optional ones (the native BLS binary)', () => {
  const stage = finalCopyFrom('/app/node_modules');
  const installs = inStage(stage, 'RUN').filter((i) => /\bnpm\b/.test(i.args));
  assert.is(installs.length, 1);
  assert.match(installs[0]!.args, /\bnpm ci\b/);
  assert.match(installs[0]!.args, /--omit=dev\b/);
  assert.not.match(installs[0]!.args, /--omit=optional|--no-optional/);
  assert.ok(contextCopies.some((c) => c.stage === stage && c.sources.includes('package-lock.json')), 'the lockfile is copied before npm ci');
});

test('the image runs compiled JavaScript: dist/ from a stage that ran npm run build, no TypeScript source, no TypeScript loader', () => {
  const build = finalCopyFrom('/app/dist');
  assert.ok(inStage(build, 'RUN').some((i) => /\bnpm run build\b/.test(i.args)), 'the stage dist/ comes from runs npm run build');
  const finalSources = contextCopies.filter((c) => c.stage === finalStage).flatMap((c) => c.sources);
  for (const source of ['cli', 'agent', 'coordinator', 'shared']) assert.not.ok(finalSources.includes(source), `the image copies the TypeScript in ${source}/`);
  for (const loader of ['tsx', 'typescript']) assert.not.ok(loader in packageJson.dependencies, `${loader} is a production dependency`);
  assert.match(readFileSync(join(root, 'bin/keylease.js'), 'utf8'), /new URL\('\.\.\/dist\/cli\/keylease\.js', import\.meta\.url\)/);
});

test('the image runs as a numeric non-root user, the one the Kubernetes manifests expect', () => {
  const users = inFinal('USER');
  assert.is(users.length, 1);
  const [uid] = users[0]!.args.split(':');
  assert.match(uid!, /^\d+$/, 'numeric, so the kubelet can enforce runAsNonRoot');
  assert.is.not(Number(uid), 0);
  for (const manifest of ['k8s/base/coordinator/statefulset.yaml', 'k8s/base/webhook/deployment.yaml']) {
    assert.match(readFileSync(join(root, manifest), 'utf8'), new RegExp(`runAsUser: ${uid}\\b`), manifest);
  }
  assert.match(readFileSync(join(root, 'coordinator/k8s/webhook/agent-sidecar.ts'), 'utf8'), new RegExp(`AGENT_IMAGE_UID = ${uid};`));
});

test('no HEALTHCHECK: Kubernetes probes /healthz and /readyz, and ignores HEALTHCHECK', () => {
  assert.is(instructions.filter((i) => i.keyword === 'HEALTHCHECK').length, 0);
});

test('the entrypoint runs bin/keylease.js in /app', () => {
  const [entrypoint] = inFinal('ENTRYPOINT');
  assert.equal(JSON.parse(entrypoint!.args), ['node', '/app/bin/keylease.js']);
  const workdir = inFinal('WORKDIR').at(-1)!.args;
  const binCopy = contextCopies.find((c) => c.stage === finalStage && c.sources.includes('bin'))!;
  assert.is(resolve(workdir, binCopy.destination), '/app/bin');
});

/** Specifiers a module loads at run time (`import type` / `export type` are erased and skipped). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers: string[] = [];
  const patterns = [
    /(?:^|\n)\s*(?:import|export)\s+(?!type\s)[^'";]*?\sfrom\s+['"]([^'"]+)['"]/g,
    /(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) specifiers.push(match[1]!);
  return specifiers;
}

function resolveRelative(from: string, specifier: string): string {
  const target = resolve(dirname(from), specifier);
  for (const candidate of [target, target.replace(/\.js$/, '.ts')]) if (existsSync(candidate)) return candidate;
  throw new Error(`${relative(root, from)} imports ${specifier}, which does not exist`);
}

const packageName = (specifier: string) => (specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
const isBuiltin = (specifier: string) => specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0]!);

/** The modules a command's main module loads, and the packages they import. */
function importGraph(main: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [main];
  for (let file = queue.pop(); file; file = queue.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    for (const specifier of runtimeImports(file)) {
      if (specifier.startsWith('.')) {
        if (!/\.(json|proto)$/.test(specifier)) queue.push(resolveRelative(file, specifier));
      } else if (!isBuiltin(specifier)) {
        packages.add(packageName(specifier));
      }
    }
  }
  return { files, packages };
}

/** The command table of cli/keylease.ts: each command's main module, imported once the command is chosen. */
const cliFile = join(root, 'cli/keylease.ts');
const commandMains = [...readFileSync(cliFile, 'utf8').matchAll(/^\s*'?([\w-]+)'?: \{ summary: .*?import\('([^']+)'\)/gm)].map(([, name, specifier]) => ({ name: name!, main: resolveRelative(cliFile, specifier!) }));
/** Development dependencies a command may load, because it asks for them by name when they are missing. */
const ASKED_FOR: Record<string, readonly string[]> = { dev: ['hardhat'] };

test('the build stage copies every source the CLI compiles from', () => {
  const build = finalCopyFrom('/app/dist');
  const copied = contextCopies.filter((c) => c.stage === build).flatMap((c) => c.sources).map((s) => join(root, s));
  const { files } = importGraph(cliFile);
  assert.ok(files.size > 50, `walked ${files.size} modules`);
  for (const file of files) assert.ok(copied.some((c) => file === c || file.startsWith(c + '/')), `${relative(root, file)} is compiled into dist/ but not copied into the build stage`);
});

test('every package a command loads is a production dependency, but for those a command asks for when missing (dev: Hardhat)', () => {
  assert.equal(commandMains.map((c) => c.name).sort(), ['agent', 'cluster', 'coordinator', 'deposit-data', 'dev', 'import', 'pool', 'quarantine', 'webhook']);
  for (const { name, main } of commandMains) {
    for (const pkg of importGraph(main).packages) {
      if (ASKED_FOR[name]?.includes(pkg)) {
        assert.ok(pkg in packageJson.devDependencies, `${pkg} is a devDependency`);
        continue;
      }
      assert.ok(pkg in packageJson.dependencies, `keylease ${name} imports ${pkg}, which is ${pkg in packageJson.devDependencies ? 'a devDependency (npm ci --omit=dev leaves it out)' : 'not a dependency'}`);
    }
  }
});

test.run();
