// Original file: keylease.proto


export interface ReleaseResponse {
  'quarantined'?: (string)[];
}

export interface ReleaseResponse__Output {
  'quarantined': (string)[];
}
