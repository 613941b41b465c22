import { KeyleaseError } from '../../../shared/errors/keylease-error.js';

/** The API server answered with an error status. `status` is the HTTP code; `reason` its Status reason. */
export class KubeApiError extends KeyleaseError {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super('KUBE_API', message);
  }
}
