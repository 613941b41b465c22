import { connect } from 'node:tls';

export interface TlsProbeResult {
  /** SHA-256 fingerprint of the certificate the server presented, as openssl prints it. */
  readonly fingerprint: string;
  /** Whether `caPem` vouches for it. */
  readonly trusted: boolean;
  /** False when the server turned the handshake down (it asked for a client certificate it did not trust). */
  readonly accepted: boolean;
}

/**
 * Opens one TLS connection to a gRPC port the way an HTTP/2 client would, and reports which certificate
 * it was served and whether the server went on to speak HTTP/2 (it sends its SETTINGS first) or hung up.
 * With `protocol: 'http/1.1'` (an HTTPS port, where the client speaks first) the handshake is the answer.
 */
export function probeTls(port: number, options: { caPem: Buffer; cert?: Buffer; key?: Buffer; timeoutMs?: number; protocol?: 'h2' | 'http/1.1' }): Promise<TlsProbeResult> {
  const protocol = options.protocol ?? 'h2';
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: options.caPem, ALPNProtocols: [protocol], rejectUnauthorized: false, ...(options.cert ? { cert: options.cert, key: options.key } : {}) });
    const timer = setTimeout(() => finish(new Error(`no TLS answer from port ${port} within ${options.timeoutMs ?? 5000} ms`)), options.timeoutMs ?? 5000);
    let seen: { fingerprint: string; trusted: boolean } | null = null;
    const finish = (outcome: Error | TlsProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    socket.once('secureConnect', () => {
      seen = { fingerprint: socket.getPeerCertificate().fingerprint256, trusted: socket.authorized };
      if (protocol === 'http/1.1') finish({ ...seen, accepted: true });
    });
    socket.once('data', () => seen && finish({ ...seen, accepted: true }));
    const refused = () => (seen ? finish({ ...seen, accepted: false }) : finish(new Error(`the TLS handshake with port ${port} failed`)));
    socket.once('error', refused);
    socket.once('close', refused);
  });
}
