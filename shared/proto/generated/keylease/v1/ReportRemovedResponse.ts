// Original file: keylease.proto


export interface ReportRemovedResponse {
  'returned'?: (string)[];
}

export interface ReportRemovedResponse__Output {
  'returned': (string)[];
}
