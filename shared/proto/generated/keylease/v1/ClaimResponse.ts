// Original file: keylease.proto

import type { ValidatorKey as _keylease_v1_ValidatorKey, ValidatorKey__Output as _keylease_v1_ValidatorKey__Output } from '../../keylease/v1/ValidatorKey.js';

export interface ClaimResponse {
  'leaseId'?: (string);
  'leaseTtlMs'?: (number);
  'keys'?: (_keylease_v1_ValidatorKey)[];
  'genesisValidatorsRoot'?: (string);
  'genesisForkVersion'?: (string);
}

export interface ClaimResponse__Output {
  'leaseId': (string);
  'leaseTtlMs': (number);
  'keys': (_keylease_v1_ValidatorKey__Output)[];
  'genesisValidatorsRoot': (string);
  'genesisForkVersion': (string);
}
