// Original file: keylease.proto


export interface ReportRemovedRequest {
  'podName'?: (string);
  'pubKeys'?: (string)[];
  'slashingProtection'?: (string);
}

export interface ReportRemovedRequest__Output {
  'podName': (string);
  'pubKeys': (string)[];
  'slashingProtection': (string);
}
