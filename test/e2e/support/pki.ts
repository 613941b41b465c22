/**
 * The node cluster's certificates, made with the openssl command: one CA; serving certificates with the
 * names and addresses each server is reached by; client certificates whose subject carries the
 * Kubernetes user (CN) and groups (O).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface ClusterPki {
  readonly caFile: string;
  readonly caKeyFile: string;
  serving(name: string, dnsNames: readonly string[], ips: readonly string[]): CertFiles;
  client(name: string, user: string, groups?: readonly string[]): CertFiles;
}

export function createClusterPki(dir: string): ClusterPki {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const caKeyFile = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.crt');
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKeyFile, '-out', caFile, '-days', '3', '-subj', '/CN=keylease e2e cluster CA');
  const issue = (name: string, subject: string, extensions: string): CertFiles => {
    const keyFile = join(dir, `${name}.key`);
    const certFile = join(dir, `${name}.crt`);
    const csr = join(dir, `${name}.csr`);
    const ext = join(dir, `${name}.ext`);
    writeFileSync(ext, extensions);
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', subject);
    openssl('x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKeyFile, '-CAcreateserial', '-out', certFile, '-days', '3', '-extfile', ext);
    return { certFile, keyFile };
  };
  return {
    caFile,
    caKeyFile,
    serving(name, dnsNames, ips) {
      const sans = [...dnsNames.map((d) => `DNS:${d}`), ...ips.map((ip) => `IP:${ip}`)].join(',');
      return issue(name, `/CN=${dnsNames[0] ?? ips[0] ?? name}`, `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\n`);
    },
    client(name, user, groups = []) {
      return issue(name, `${groups.map((g) => `/O=${g}`).join('')}/CN=${user}`, 'extendedKeyUsage=clientAuth\n');
    },
  };
}
