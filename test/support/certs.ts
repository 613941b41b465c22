import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCa {
  readonly caFile: string;
  /** Issues a certificate for 127.0.0.1 and localhost; returns its cert and key files. */
  issue(name: string): { certFile: string; keyFile: string };
}

/** A throwaway certificate authority made with the openssl command, for TLS tests on loopback. */
export function createTestCa(dir: string, name = 'ca'): TestCa {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const caKey = join(dir, `${name}.key`);
  const caFile = join(dir, `${name}.pem`);
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', `/CN=keylease test ${name}`);
  return {
    caFile,
    issue(cn: string) {
      const keyFile = join(dir, `${name}-${cn}.key`);
      const csr = join(dir, `${name}-${cn}.csr`);
      const certFile = join(dir, `${name}-${cn}.pem`);
      const ext = join(dir, `${name}-${cn}.ext`);
      writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
      openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${cn}`);
      openssl('x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext);
      return { certFile, keyFile };
    },
  };
}
