// Original file: keylease.proto


export interface RenewRefusal {
  'status'?: (number);
  'refusalCode'?: (string);
  'message'?: (string);
  'notApplied'?: (boolean);
  'leaderEndpoint'?: (string);
  'leaderId'?: (string);
  'retryAfterMs'?: (number);
}

export interface RenewRefusal__Output {
  'status': (number);
  'refusalCode': (string);
  'message': (string);
  'notApplied': (boolean);
  'leaderEndpoint': (string);
  'leaderId': (string);
  'retryAfterMs': (number);
}
