/** Resolve hook of register.ts, on Node's hooks thread. */
import { fileURLToPath } from 'node:url';

let hidden: readonly string[] = [];

export function initialize(data: { packages: string[] }): void {
  hidden = data.packages;
}

export async function resolve(specifier: string, context: { parentURL?: string }, nextResolve: (specifier: string, context: unknown) => Promise<unknown>): Promise<unknown> {
  const name = hidden.find((p) => specifier === p || specifier.startsWith(p + '/'));
  if (name === undefined) return nextResolve(specifier, context);
  const from = context.parentURL?.startsWith('file:') ? fileURLToPath(context.parentURL) : String(context.parentURL);
  throw Object.assign(new Error(`Cannot find package '${name}' imported from ${from}`), { code: 'ERR_MODULE_NOT_FOUND' });
}
