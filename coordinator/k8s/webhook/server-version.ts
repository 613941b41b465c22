/** The Kubernetes API server's version, as `GET /version` reports it (`major: "1"`, `minor: "29"` or `"29+"`). */
export interface ServerVersion {
  readonly major: number;
  readonly minor: number;
}

/** Parses /version's strings; managed clusters append '+' to the minor ("29+"). Null if unreadable. */
export function parseServerVersion(info: { major?: string; minor?: string }): ServerVersion | null {
  const major = Number(/^(\d+)/.exec(info.major ?? '')?.[1]);
  const minor = Number(/^(\d+)/.exec(info.minor ?? '')?.[1]);
  return Number.isInteger(major) && Number.isInteger(minor) ? { major, minor } : null;
}

/**
 * Native sidecars (an init container with `restartPolicy: Always`) are alpha in 1.28 and on by default
 * from 1.29; older API servers drop the field, which would turn the agent into an init container that
 * never ends and a pod that never starts.
 */
export function supportsNativeSidecars(version: ServerVersion): boolean {
  return version.major > 1 || (version.major === 1 && version.minor >= 29);
}

export const formatServerVersion = (version: ServerVersion) => `${version.major}.${version.minor}`;
