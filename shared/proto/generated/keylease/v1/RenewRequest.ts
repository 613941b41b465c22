// Original file: keylease.proto


export interface RenewRequest {
  'podName'?: (string);
  'leaseId'?: (string);
  'slashingProtection'?: (string);
  'protectionVersion'?: (string);
  'sequence'?: (number);
}

export interface RenewRequest__Output {
  'podName': (string);
  'leaseId': (string);
  'slashingProtection': (string);
  'protectionVersion': (string);
  'sequence': (number);
}
