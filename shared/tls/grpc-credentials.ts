import * as grpc from '@grpc/grpc-js';
import type { ReloadingTls } from './reloading-tls.js';
import type { TlsMaterial } from './tls-material.js';

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

/**
 * Feeds grpc-js's certificate-provider credentials from a `ReloadingTls`: a new server certificate is
 * installed on the bound ports with setSecureContext, and clients build each new connection's context
 * from the latest CA and identity, so neither needs a restart or a rebind.
 */
class ReloadingTlsProvider implements grpc.experimental.CertificateProvider {
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();

  constructor(private readonly tls: ReloadingTls) {
    tls.subscribe((material) => {
      for (const listener of this.caListeners) listener(caUpdate(material));
      for (const listener of this.identityListeners) listener(identityUpdate(material));
    });
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    // Later than the call: grpc-js registers its own watcher on the server only after adding this
    // listener, and an update delivered before then would never reach the port being bound.
    queueMicrotask(() => this.caListeners.has(listener) && listener(caUpdate(this.tls.current)));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => this.identityListeners.has(listener) && listener(identityUpdate(this.tls.current)));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
}

function caUpdate(material: TlsMaterial): grpc.experimental.CaCertificateUpdate | null {
  return material.caPem ? { caCertificate: material.caPem } : null;
}

function identityUpdate(material: TlsMaterial): grpc.experimental.IdentityCertificateUpdate | null {
  return material.certPem && material.keyPem ? { certificate: material.certPem, privateKey: material.keyPem } : null;
}

/**
 * Server credentials serving the current certificate. With `requireClientCertificate`, clients must
 * present a certificate the current CA bundle signed (mutual TLS between replicas).
 */
export function reloadingServerCredentials(tls: ReloadingTls, options: { readonly requireClientCertificate: boolean }): grpc.ServerCredentials {
  const provider = new ReloadingTlsProvider(tls);
  // grpc-js 1.14 passes this function's first argument on as the identity provider and its second as
  // the CA provider (the declared names say the opposite). Both are this one provider for mutual TLS;
  // without it the CA is null, which requests no client certificate. The TLS tests fail if that changes.
  return grpc.experimental.createCertificateProviderServerCredentials(provider, options.requireClientCertificate ? provider : null, options.requireClientCertificate);
}

/** Channel credentials trusting the current CA bundle and, when there is one, presenting the current certificate. */
export function reloadingChannelCredentials(tls: ReloadingTls): grpc.ChannelCredentials {
  const provider = new ReloadingTlsProvider(tls);
  return grpc.experimental.createCertificateProviderChannelCredentials(provider, tls.current.certPem ? provider : null);
}
