// Original file: raft.proto


export interface StreamEnd {
}

export interface StreamEnd__Output {
}
