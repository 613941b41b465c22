// Original file: keylease.proto


export interface ReleaseResponse {
}

export interface ReleaseResponse__Output {
}
