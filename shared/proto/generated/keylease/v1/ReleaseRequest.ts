// Original file: keylease.proto


export interface ReleaseRequest {
  'podName'?: (string);
  'leaseId'?: (string);
  'requestId'?: (string);
  'slashingProtection'?: (string);
  'reason'?: (string);
}

export interface ReleaseRequest__Output {
  'podName': (string);
  'leaseId': (string);
  'requestId': (string);
  'slashingProtection': (string);
  'reason': (string);
}
