import { KeyleaseError } from '../../../shared/errors/keylease-error.js';

/**
 * A value that does not fit its SSZ type (a list over its limit, bytes of the wrong length, a malformed
 * bitlist). `path` says where in the value, e.g. `body.attestations[3].aggregation_bits`, empty at the top.
 */
export class SszError extends KeyleaseError {
  declare readonly code: 'SSZ_VALUE';

  constructor(
    readonly reason: string,
    readonly path = '',
  ) {
    super('SSZ_VALUE', `${path === '' ? 'the value' : path} does not fit its SSZ type: ${reason}`);
  }

  /** The same error seen from the enclosing value: `segment` is a field name or an `[index]`. */
  within(segment: string): SszError {
    const joiner = this.path === '' || this.path.startsWith('[') ? '' : '.';
    return new SszError(this.reason, segment + joiner + this.path);
  }
}
