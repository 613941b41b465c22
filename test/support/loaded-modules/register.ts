/**
 * Preloaded with `--import` (NODE_OPTIONS) into a process under test: appends to the file named by
 * KEYLEASE_LOADED_MODULES_FILE every module the process loads, one URL or path a line. ES modules are
 * seen by a loader hook as they load; CommonJS ones (loaded by require inside packages, which the hooks
 * do not see) are taken from the require cache as the process exits.
 */
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const file = process.env['KEYLEASE_LOADED_MODULES_FILE'];
if (!file) throw new Error('KEYLEASE_LOADED_MODULES_FILE names no file');
register(new URL('./hooks.ts', import.meta.url), { data: { file } });
process.on('exit', () => appendFileSync(file, Object.keys(createRequire(import.meta.url).cache).join('\n') + '\n'));
