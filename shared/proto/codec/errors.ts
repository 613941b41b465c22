import { KeyleaseError } from '../../errors/keylease-error.js';

/** A message that is not valid Protocol Buffers for its type, or a type this codec does not support. */
export class ProtoCodecError extends KeyleaseError {
  constructor(message: string) {
    super('PROTO_CODEC', message);
  }
}
