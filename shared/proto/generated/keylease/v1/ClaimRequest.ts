// Original file: keylease.proto


export interface ClaimRequest {
  'podName'?: (string);
  'pool'?: (string);
  'count'?: (number);
  'signingMode'?: (string);
}

export interface ClaimRequest__Output {
  'podName': (string);
  'pool': (string);
  'count': (number);
  'signingMode': (string);
}
