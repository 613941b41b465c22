import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../../../shared/errors/keylease-error.js';
import { podNameProblem, poolNameProblem } from '../../../shared/names/pod-name.js';
import { PodIdentityError } from '../../identity/identity-error.js';

/** One grant: pods of `namespace` (running as one of `serviceAccounts`, or as any when null) may claim. */
export interface PoolGrant {
  readonly namespace: string;
  readonly serviceAccounts: readonly string[] | null;
}

/**
 * Which namespaces and service accounts may claim keys from which pool. Nothing is allowed unless a
 * grant says so. The file (YAML, or JSON, which YAML reads too):
 *
 *   pools:
 *     mainnet:
 *       - namespace: validators
 *         serviceAccounts: [lighthouse, teku]   # omit: any service account of the namespace
 *     holesky:
 *       - namespace: testnet
 */
export class PoolPolicy {
  private constructor(private readonly grants: ReadonlyMap<string, readonly PoolGrant[]>) {}

  static parse(text: string, source: string): PoolPolicy {
    let document: unknown;
    try {
      document = parseYaml(text);
    } catch (cause) {
      throw new ConfigError(`${source} is not YAML or JSON: ${(cause as Error).message.split('\n')[0]}`, { cause });
    }
    const fail = (where: string, what: string): never => {
      throw new ConfigError(`${source}: ${where} ${what}; see the pool policy format in coordinator/k8s/identity/pool-policy.ts`);
    };
    if (!isRecord(document) || !isRecord(document['pools'])) return fail('the top level', 'must be a mapping with a "pools" mapping');
    for (const key of Object.keys(document)) if (key !== 'pools') fail(`"${key}"`, 'is not a known field');
    const grants = new Map<string, PoolGrant[]>();
    for (const [pool, entries] of Object.entries(document['pools'])) {
      const poolProblem = poolNameProblem(pool);
      if (poolProblem) fail(`pools."${pool}"`, `is not a pool name (${poolProblem})`);
      if (!Array.isArray(entries) || entries.length === 0) fail(`pools.${pool}`, 'must be a non-empty list of {namespace, serviceAccounts}');
      grants.set(pool, (entries as unknown[]).map((entry, i) => parseGrant(entry, `pools.${pool}[${i}]`, fail)));
    }
    return new PoolPolicy(grants);
  }

  allows(identity: { namespace: string; serviceAccount: string }, pool: string): boolean {
    return (this.grants.get(pool) ?? []).some(
      (g) => g.namespace === identity.namespace && (g.serviceAccounts === null || g.serviceAccounts.includes(identity.serviceAccount)),
    );
  }

  /** Throws a forbidden PodIdentityError naming who asked for what, unless a grant allows it. */
  assertAllowed(identity: { namespace: string; serviceAccount: string; podName: string }, pool: string): void {
    if (this.allows(identity, pool)) return;
    throw new PodIdentityError(
      'forbidden',
      'POOL_FORBIDDEN',
      `pod ${identity.namespace}/${identity.podName} (service account ${identity.serviceAccount}) may not claim keys from pool ${JSON.stringify(pool)}: no grant in the pool policy allows namespace ${identity.namespace}${this.grants.has(pool) ? '' : ' (the policy has no such pool)'}; add one, or use a pool this namespace is granted`,
    );
  }

  /** The namespaces any grant names: the ones whose pods the coordinator must watch. */
  namespaces(): string[] {
    return [...new Set([...this.grants.values()].flat().map((g) => g.namespace))].sort();
  }
}

function parseGrant(entry: unknown, where: string, fail: (where: string, what: string) => never): PoolGrant {
  if (!isRecord(entry)) return fail(where, 'must be a mapping with "namespace" and optional "serviceAccounts"');
  for (const key of Object.keys(entry)) if (key !== 'namespace' && key !== 'serviceAccounts') fail(`${where}.${key}`, 'is not a known field (namespace, serviceAccounts)');
  const namespace = entry['namespace'];
  if (typeof namespace !== 'string' || poolNameProblem(namespace)) fail(`${where}.namespace`, 'must be a namespace name (a DNS-1123 label)');
  const accounts = entry['serviceAccounts'];
  if (accounts === undefined) return { namespace: namespace as string, serviceAccounts: null };
  if (!Array.isArray(accounts) || accounts.length === 0 || accounts.some((a) => typeof a !== 'string' || podNameProblem(a))) {
    fail(`${where}.serviceAccounts`, 'must be a non-empty list of service account names (omit it to allow any)');
  }
  return { namespace: namespace as string, serviceAccounts: accounts as string[] };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
