/**
 * Preloaded with `--import` (NODE_OPTIONS) into a process under test: the packages named in
 * KEYLEASE_HIDDEN_PACKAGES (comma-separated) cannot be imported, as in an installation that leaves
 * them out (`npm ci --omit=dev`). Node's own error is reproduced: code ERR_MODULE_NOT_FOUND and its message.
 */
import { register } from 'node:module';

const packages = (process.env['KEYLEASE_HIDDEN_PACKAGES'] ?? '').split(',').filter(Boolean);
if (packages.length === 0) throw new Error('KEYLEASE_HIDDEN_PACKAGES names no package');
register(new URL('./hooks.ts', import.meta.url), { data: { packages } });
