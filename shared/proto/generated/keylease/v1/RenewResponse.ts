// Original file: keylease.proto


export interface RenewResponse {
  'leaseTtlMs'?: (number);
}

export interface RenewResponse__Output {
  'leaseTtlMs': (number);
}
