// Original file: keylease.proto

import type { RenewRefusal as _keylease_v1_RenewRefusal, RenewRefusal__Output as _keylease_v1_RenewRefusal__Output } from '../../keylease/v1/RenewRefusal.js';

export interface RenewResponse {
  'leaseTtlMs'?: (number);
  'protectionVersion'?: (string);
  'sequence'?: (number);
  'refusal'?: (_keylease_v1_RenewRefusal | null);
}

export interface RenewResponse__Output {
  'leaseTtlMs': (number);
  'protectionVersion': (string);
  'sequence': (number);
  'refusal': (_keylease_v1_RenewRefusal__Output | null);
}
