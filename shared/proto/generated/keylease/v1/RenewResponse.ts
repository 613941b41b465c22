// Original file: keylease.proto


export interface RenewResponse {
  'leaseTtlMs'?: (number);
  'protectionVersion'?: (string);
  'sequence'?: (number);
}

export interface RenewResponse__Output {
  'leaseTtlMs': (number);
  'protectionVersion': (string);
  'sequence': (number);
}
