import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { RaftEnvelope as _keylease_raft_v1_RaftEnvelope, RaftEnvelope__Output as _keylease_raft_v1_RaftEnvelope__Output } from './keylease/raft/v1/RaftEnvelope.js';
import type { RaftPeerClient as _keylease_raft_v1_RaftPeerClient, RaftPeerDefinition as _keylease_raft_v1_RaftPeerDefinition } from './keylease/raft/v1/RaftPeer.js';
import type { StreamEnd as _keylease_raft_v1_StreamEnd, StreamEnd__Output as _keylease_raft_v1_StreamEnd__Output } from './keylease/raft/v1/StreamEnd.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  keylease: {
    raft: {
      v1: {
        RaftEnvelope: MessageTypeDefinition<_keylease_raft_v1_RaftEnvelope, _keylease_raft_v1_RaftEnvelope__Output>
        RaftPeer: SubtypeConstructor<typeof grpc.Client, _keylease_raft_v1_RaftPeerClient> & { service: _keylease_raft_v1_RaftPeerDefinition }
        StreamEnd: MessageTypeDefinition<_keylease_raft_v1_StreamEnd, _keylease_raft_v1_StreamEnd__Output>
      }
    }
  }
}

