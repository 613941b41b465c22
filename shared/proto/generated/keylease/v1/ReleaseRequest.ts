// Original file: keylease.proto


export interface ReleaseRequest {
  'podName'?: (string);
  'leaseId'?: (string);
  'requestId'?: (string);
}

export interface ReleaseRequest__Output {
  'podName': (string);
  'leaseId': (string);
  'requestId': (string);
}
