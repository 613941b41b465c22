/** Loader hooks of register.ts: they run on Node's hooks thread and record each module as it loads. */
import { appendFileSync } from 'node:fs';

let file = '';

export function initialize(data: { file: string }): void {
  file = data.file;
}

export async function load(url: string, context: unknown, nextLoad: (url: string, context: unknown) => Promise<unknown>): Promise<unknown> {
  appendFileSync(file, url + '\n');
  return nextLoad(url, context);
}
