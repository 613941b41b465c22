import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../../../shared/errors/keylease-error.js';

/**
 * Where the Kubernetes API is and how to authenticate to it: the parts of a kubeconfig (or of a pod's
 * ServiceAccount) that the coordinator and the webhook use. A token file is re-read on every request, so
 * the kubelet's rotation of a projected token is followed.
 */
export interface KubeConnection {
  /** https://host:port, without a trailing slash. */
  readonly server: string;
  readonly caPem: Buffer | null;
  readonly insecureSkipTlsVerify: boolean;
  readonly token: (() => string) | null;
  readonly clientCertPem: Buffer | null;
  readonly clientKeyPem: Buffer | null;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The pod's own ServiceAccount, as every pod gets it mounted. */
export function inClusterConnection(env: NodeJS.ProcessEnv = process.env, accountDir = SERVICE_ACCOUNT_DIR): KubeConnection {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'] ?? '443';
  if (!host) throw new ConfigError('not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST is not set): give a kubeconfig file');
  const tokenFile = `${accountDir}/token`;
  let caPem: Buffer;
  try {
    caPem = readFileSync(`${accountDir}/ca.crt`);
    readFileSync(tokenFile);
  } catch (cause) {
    throw new ConfigError(`cannot read the pod's ServiceAccount credentials in ${accountDir}: run with a ServiceAccount token mounted (automountServiceAccountToken), or give a kubeconfig`, { cause });
  }
  return { server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, caPem, insecureSkipTlsVerify: false, token: () => readFileSync(tokenFile, 'utf8').trim(), clientCertPem: null, clientKeyPem: null };
}

/** The current context of a kubeconfig file. */
export function kubeconfigFileConnection(file: string): KubeConnection {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read kubeconfig ${file}: check the path`, { cause });
  }
  return kubeconfigConnection(text, file);
}

type Entry = Record<string, unknown>;

/** The current context of a kubeconfig's text; `source` names it in errors, and relative paths are taken from its folder. */
export function kubeconfigConnection(text: string, source: string): KubeConnection {
  let config: Entry;
  try {
    config = parseYaml(text) as Entry;
  } catch (cause) {
    throw new ConfigError(`kubeconfig ${source} is not valid YAML: check the file`, { cause });
  }
  const bad = (what: string) => new ConfigError(`kubeconfig ${source}: ${what}`);
  if (typeof config !== 'object' || config === null) throw bad('it is not a kubeconfig (no clusters, users and contexts)');
  const named = (list: string, name: unknown, field: string): Entry => {
    const entries = Array.isArray(config[list]) ? (config[list] as Entry[]) : [];
    const found = entries.find((e) => e?.['name'] === name)?.[field];
    if (typeof found !== 'object' || found === null) throw bad(`no ${list.slice(0, -1)} named ${JSON.stringify(name)}`);
    return found as Entry;
  };
  const contextName = config['current-context'];
  if (typeof contextName !== 'string' || contextName === '') throw bad('no current-context is set');
  const context = named('contexts', contextName, 'context');
  const cluster = named('clusters', context['cluster'], 'cluster');
  const user = context['user'] === undefined ? {} : named('users', context['user'], 'user');

  const folder = source.includes('/') ? source.slice(0, source.lastIndexOf('/') + 1) : '';
  const pem = (entry: Entry, dataField: string, fileField: string): Buffer | null => {
    if (typeof entry[dataField] === 'string') return Buffer.from(entry[dataField] as string, 'base64');
    if (typeof entry[fileField] !== 'string') return null;
    const path = entry[fileField] as string;
    try {
      return readFileSync(path.startsWith('/') ? path : `${folder}${path}`);
    } catch (cause) {
      throw new ConfigError(`kubeconfig ${source}: cannot read ${fileField} ${path}`, { cause });
    }
  };
  const server = cluster['server'];
  if (typeof server !== 'string' || !/^https?:\/\/[^/]+/.test(server)) throw bad(`cluster ${JSON.stringify(context['cluster'])} has no http(s) server URL`);
  for (const unsupported of ['exec', 'auth-provider', 'username']) {
    if (user[unsupported] !== undefined) throw bad(`user ${JSON.stringify(context['user'])} authenticates with ${unsupported}, which keylease does not support: use a token, a token file or a client certificate`);
  }
  let token: (() => string) | null = null;
  if (typeof user['token'] === 'string') {
    const value = user['token'];
    token = () => value;
  } else if (typeof user['tokenFile'] === 'string') {
    const path = user['tokenFile'] as string;
    token = () => readFileSync(path.startsWith('/') ? path : `${folder}${path}`, 'utf8').trim();
  }
  const clientCertPem = pem(user, 'client-certificate-data', 'client-certificate');
  const clientKeyPem = pem(user, 'client-key-data', 'client-key');
  if ((clientCertPem === null) !== (clientKeyPem === null)) throw bad('a client certificate needs both client-certificate and client-key');
  return {
    server: server.replace(/\/+$/, ''),
    caPem: pem(cluster, 'certificate-authority-data', 'certificate-authority'),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    token,
    clientCertPem,
    clientKeyPem,
  };
}
