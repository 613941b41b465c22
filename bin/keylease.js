#!/usr/bin/env node
// Runs the compiled CLI in dist/ (`npm run build`; the image holds only that). A checkout that has not
// been built runs the TypeScript through tsx, a development dependency, so a fresh clone works at once.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/keylease.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    process.stderr.write('keylease: dist/ is missing and tsx (a development dependency) is not installed: run `npm run build` in a full install (npm install), or use the image\n');
    process.exit(1);
  }
  tsx.register();
  await import('../cli/keylease.ts');
}
