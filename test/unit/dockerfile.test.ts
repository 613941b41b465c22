/**
 * The Dockerfile cannot be built on these machines (no Docker engine), so what a build would catch is
 * checked here: COPY sources exist, everything the entrypoint imports is copied and its packages are
 * production dependencies, the user is non-root (and the one the manifests expect), no HEALTHCHECK.
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
const inFinal = (keyword: string) => instructions.filter((i) => i.stage === finalStage && i.keyword === keyword);

/** COPY sources from the build context (not from another stage) and where they land in the image. */
const contextCopies = instructions
  .filter((i) => i.keyword === 'COPY' && !/--from=/.test(i.args))
  .map((i) => {
    const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
    return { stage: i.stage, sources: parts.slice(0, -1), destination: parts.at(-1)! };
  });

test('every COPY source exists in the build context', () => {
  assert.ok(contextCopies.length > 0);
  for (const copy of contextCopies) for (const source of copy.sources) assert.ok(existsSync(join(root, source)), `COPY ${source}: no such file or directory`);
});

test('dependencies are installed from the lockfile, production only, keeping optional ones (the native BLS binary)', () => {
  const installs = instructions.filter((i) => i.keyword === 'RUN' && /\bnpm\b/.test(i.args));
  assert.is(installs.length, 1);
  assert.match(installs[0]!.args, /\bnpm ci\b/);
  assert.match(installs[0]!.args, /--omit=dev\b/);
  assert.not.match(installs[0]!.args, /--omit=optional|--no-optional/);
  assert.ok(contextCopies.some((c) => c.stage === installs[0]!.stage && c.sources.includes('package-lock.json')), 'the lockfile is copied before npm ci');
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

test('the entrypoint runs bin/keylease.js, which loads cli/keylease.ts', () => {
  const [entrypoint] = inFinal('ENTRYPOINT');
  assert.equal(JSON.parse(entrypoint!.args), ['node', '/app/bin/keylease.js']);
  const workdir = inFinal('WORKDIR').at(-1)!.args;
  const binCopy = contextCopies.find((c) => c.stage === finalStage && c.sources.includes('bin'))!;
  assert.is(resolve(workdir, binCopy.destination), '/app/bin');
  assert.match(readFileSync(join(root, 'bin/keylease.js'), 'utf8'), /await import\('\.\.\/cli\/keylease\.ts'\)/);
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

test('everything the entrypoint loads is copied into the image, and every package it loads is a production dependency', () => {
  const copied = contextCopies.filter((c) => c.stage === finalStage).flatMap((c) => c.sources).map((s) => join(root, s));
  const seen = new Set<string>();
  const packages = new Set<string>();
  const queue = [join(root, 'bin/keylease.js')];
  for (let file = queue.pop(); file; file = queue.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    assert.ok(copied.some((c) => file === c || file.startsWith(c + '/')), `${relative(root, file)} is loaded at run time but not copied into the image`);
    for (const specifier of runtimeImports(file)) {
      if (specifier.startsWith('.')) {
        if (!/\.(json|proto)$/.test(specifier)) queue.push(resolveRelative(file, specifier));
      } else if (!isBuiltin(specifier)) {
        packages.add(packageName(specifier));
      }
    }
  }
  assert.ok(seen.size > 50, `walked ${seen.size} modules`);
  for (const name of packages) {
    assert.ok(name in packageJson.dependencies, `${name} is imported at run time but is ${name in packageJson.devDependencies ? 'a devDependency (npm ci --omit=dev leaves it out)' : 'not a dependency'}`);
  }
  assert.ok(packages.has('tsx'), 'tsx compiles the TypeScript at run time');
});

test.run();
