// Original file: raft.proto


export interface RaftEnvelope {
  'from'?: (string);
  'to'?: (string);
  'message'?: (Buffer | Uint8Array | string);
  'fromRaftAddress'?: (string);
  'fromAgentEndpoint'?: (string);
  'moreMessages'?: (Buffer | Uint8Array | string)[];
}

export interface RaftEnvelope__Output {
  'from': (string);
  'to': (string);
  'message': (Buffer);
  'fromRaftAddress': (string);
  'fromAgentEndpoint': (string);
  'moreMessages': (Buffer)[];
}
