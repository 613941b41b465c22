import { KeyleaseError } from '../../shared/errors/keylease-error.js';

/**
 * Why a pod's identity was refused. `kind` tells the gRPC layer which status to answer with:
 * unauthenticated (UNAUTHENTICATED: the token proves no live pod), forbidden (PERMISSION_DENIED: a real
 * pod asking for what it may not have), unavailable (UNAVAILABLE: the Kubernetes API could not be asked;
 * the agent should retry). Messages never contain the token.
 */
export type IdentityRefusalKind = 'unauthenticated' | 'forbidden' | 'unavailable';

export class PodIdentityError extends KeyleaseError {
  readonly kind: IdentityRefusalKind;

  constructor(kind: IdentityRefusalKind, code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.kind = kind;
  }
}
