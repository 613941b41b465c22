import { ConfigError } from '../../../shared/errors/keylease-error.js';
import type { Logger } from '../../../shared/log/logger.js';
import type { KubeClient } from '../api/kube-client.js';
import { formatServerVersion, parseServerVersion, type ServerVersion } from './server-version.js';

export async function fetchServerVersion(kube: KubeClient): Promise<ServerVersion> {
  const info = await kube.get<{ major?: string; minor?: string }>('/version');
  const version = parseServerVersion(info);
  if (!version) throw new Error(`the API server reported an unreadable version (major ${JSON.stringify(info.major)}, minor ${JSON.stringify(info.minor)})`);
  return version;
}

/**
 * The API server's version, read at start (failing start if the server cannot be reached) and re-read
 * every `refreshMs`, since a control-plane upgrade happens under a running webhook. A failed refresh keeps
 * the last version known.
 */
export async function trackServerVersion(kube: KubeClient, logger: Logger, refreshMs = 10 * 60_000): Promise<{ current(): ServerVersion; stop(): void }> {
  let version: ServerVersion;
  try {
    version = await fetchServerVersion(kube);
  } catch (cause) {
    throw new ConfigError(`cannot read the Kubernetes API server's version from ${kube.connection.server}: check connectivity and credentials`, { cause });
  }
  logger.info('kubernetes API server version', { version: formatServerVersion(version) });
  const timer = setInterval(() => {
    fetchServerVersion(kube).then(
      (next) => {
        if (next.major !== version.major || next.minor !== version.minor) logger.info('kubernetes API server version changed', { from: formatServerVersion(version), to: formatServerVersion(next) });
        version = next;
      },
      (error: unknown) => logger.warn('could not re-read the API server version; keeping the last one', { version: formatServerVersion(version), error: error as Error }),
    );
  }, refreshMs);
  timer.unref();
  return { current: () => version, stop: () => clearInterval(timer) };
}
