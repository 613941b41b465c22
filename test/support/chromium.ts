import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** Debian's package (`apt-get install chromium`), as .ci/run installs it. */
export const CHROMIUM = '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

/**
 * Loads `url` in headless Chromium and returns the document as the browser parsed it. Background
 * networking is off: this machine has no way out, and Chromium would keep trying.
 */
export async function renderedDom(url: string, timeoutMs = 30_000): Promise<string> {
  const profile = await mkdtemp(join(tmpdir(), 'keylease-chromium-'));
  try {
    const { stdout } = await promisify(execFile)(
      CHROMIUM,
      ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--dump-dom', url],
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
    );
    return stdout;
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}
