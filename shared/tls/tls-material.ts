import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { TlsMaterialError } from './errors.js';

/** Where the PEM files are. A part left null is not used: an agent, for one, has only a CA. */
export interface TlsFiles {
  readonly caFile: string | null;
  readonly certFile: string | null;
  readonly keyFile: string | null;
}

/** PEM contents that passed `checkTlsMaterial`, with what is worth reporting about the certificate. */
export interface TlsMaterial {
  readonly caPem: Buffer | null;
  readonly certPem: Buffer | null;
  readonly keyPem: Buffer | null;
  /** When this process's own certificate stops being valid (ms since the epoch); null without one. */
  readonly certNotAfterMs: number | null;
  /** SHA-256 fingerprint of that certificate, as openssl prints it: safe to log, names the rotation. */
  readonly certFingerprint: string | null;
}

/**
 * Checks a set of PEM contents before anything serves them: each part parses, the certificate and key
 * are a pair, and the certificate has not expired. A rotation caught half-written (a new certificate
 * beside the old key) fails here, so the previous material stays in use instead of breaking every
 * handshake. Messages name the files, never their contents.
 */
export function checkTlsMaterial(files: TlsFiles, pems: { caPem: Buffer | null; certPem: Buffer | null; keyPem: Buffer | null }, nowMs: number): TlsMaterial {
  const { caPem, certPem, keyPem } = pems;
  if ((certPem === null) !== (keyPem === null)) throw new TlsMaterialError('a TLS certificate needs its private key, and a key its certificate: give both files or neither');
  if (caPem !== null) parseCertificate(caPem, `the CA bundle ${files.caFile}`);
  let certNotAfterMs: number | null = null;
  let certFingerprint: string | null = null;
  if (certPem !== null && keyPem !== null) {
    const certificate = parseCertificate(certPem, `the certificate ${files.certFile}`);
    let matches: boolean;
    try {
      matches = certificate.checkPrivateKey(createPrivateKey(keyPem));
    } catch (cause) {
      throw new TlsMaterialError(`${files.keyFile} is not a PEM private key: check the file (it may be mid-rotation)`, { cause });
    }
    if (!matches) throw new TlsMaterialError(`the certificate ${files.certFile} does not belong to the private key ${files.keyFile}: update both together`);
    certNotAfterMs = Date.parse(certificate.validTo);
    if (certNotAfterMs <= nowMs) throw new TlsMaterialError(`the certificate ${files.certFile} expired at ${new Date(certNotAfterMs).toISOString()}: issue a new one`);
    certFingerprint = createHash('sha256').update(certificate.raw).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
  }
  try {
    // What OpenSSL itself will be given: catches anything the checks above let through.
    createSecureContext({ ...(caPem ? { ca: caPem } : {}), ...(certPem ? { cert: certPem } : {}), ...(keyPem ? { key: keyPem } : {}) });
  } catch (cause) {
    throw new TlsMaterialError(`OpenSSL refused the TLS files (${[files.caFile, files.certFile, files.keyFile].filter(Boolean).join(', ')}): ${(cause as Error).message}`, { cause });
  }
  return { caPem, certPem, keyPem, certNotAfterMs, certFingerprint };
}

function parseCertificate(pem: Buffer, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (cause) {
    throw new TlsMaterialError(`${what} is not a PEM certificate: check the file (it may be mid-rotation)`, { cause });
  }
}
