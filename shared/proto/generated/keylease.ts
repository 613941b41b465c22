import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AllocationClient as _keylease_v1_AllocationClient, AllocationDefinition as _keylease_v1_AllocationDefinition } from './keylease/v1/Allocation.js';
import type { ClaimRequest as _keylease_v1_ClaimRequest, ClaimRequest__Output as _keylease_v1_ClaimRequest__Output } from './keylease/v1/ClaimRequest.js';
import type { ClaimResponse as _keylease_v1_ClaimResponse, ClaimResponse__Output as _keylease_v1_ClaimResponse__Output } from './keylease/v1/ClaimResponse.js';
import type { ReleaseRequest as _keylease_v1_ReleaseRequest, ReleaseRequest__Output as _keylease_v1_ReleaseRequest__Output } from './keylease/v1/ReleaseRequest.js';
import type { ReleaseResponse as _keylease_v1_ReleaseResponse, ReleaseResponse__Output as _keylease_v1_ReleaseResponse__Output } from './keylease/v1/ReleaseResponse.js';
import type { RenewRefusal as _keylease_v1_RenewRefusal, RenewRefusal__Output as _keylease_v1_RenewRefusal__Output } from './keylease/v1/RenewRefusal.js';
import type { RenewRequest as _keylease_v1_RenewRequest, RenewRequest__Output as _keylease_v1_RenewRequest__Output } from './keylease/v1/RenewRequest.js';
import type { RenewResponse as _keylease_v1_RenewResponse, RenewResponse__Output as _keylease_v1_RenewResponse__Output } from './keylease/v1/RenewResponse.js';
import type { ReportRemovedRequest as _keylease_v1_ReportRemovedRequest, ReportRemovedRequest__Output as _keylease_v1_ReportRemovedRequest__Output } from './keylease/v1/ReportRemovedRequest.js';
import type { ReportRemovedResponse as _keylease_v1_ReportRemovedResponse, ReportRemovedResponse__Output as _keylease_v1_ReportRemovedResponse__Output } from './keylease/v1/ReportRemovedResponse.js';
import type { ValidatorKey as _keylease_v1_ValidatorKey, ValidatorKey__Output as _keylease_v1_ValidatorKey__Output } from './keylease/v1/ValidatorKey.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  keylease: {
    v1: {
      Allocation: SubtypeConstructor<typeof grpc.Client, _keylease_v1_AllocationClient> & { service: _keylease_v1_AllocationDefinition }
      ClaimRequest: MessageTypeDefinition<_keylease_v1_ClaimRequest, _keylease_v1_ClaimRequest__Output>
      ClaimResponse: MessageTypeDefinition<_keylease_v1_ClaimResponse, _keylease_v1_ClaimResponse__Output>
      ReleaseRequest: MessageTypeDefinition<_keylease_v1_ReleaseRequest, _keylease_v1_ReleaseRequest__Output>
      ReleaseResponse: MessageTypeDefinition<_keylease_v1_ReleaseResponse, _keylease_v1_ReleaseResponse__Output>
      RenewRefusal: MessageTypeDefinition<_keylease_v1_RenewRefusal, _keylease_v1_RenewRefusal__Output>
      RenewRequest: MessageTypeDefinition<_keylease_v1_RenewRequest, _keylease_v1_RenewRequest__Output>
      RenewResponse: MessageTypeDefinition<_keylease_v1_RenewResponse, _keylease_v1_RenewResponse__Output>
      ReportRemovedRequest: MessageTypeDefinition<_keylease_v1_ReportRemovedRequest, _keylease_v1_ReportRemovedRequest__Output>
      ReportRemovedResponse: MessageTypeDefinition<_keylease_v1_ReportRemovedResponse, _keylease_v1_ReportRemovedResponse__Output>
      ValidatorKey: MessageTypeDefinition<_keylease_v1_ValidatorKey, _keylease_v1_ValidatorKey__Output>
    }
  }
}

