/**
 * Metadata on the Allocation service beside its messages: the contract between agents and coordinators,
 * as fixed as keylease.proto's field numbers.
 */

/** Trailer naming the refusal code, so agents act on the code rather than parse messages. */
export const REFUSAL_CODE_TRAILER = 'keylease-refusal-code';
/** Trailers naming the leader's agent endpoint and replica id when a follower is asked: the agent goes there. */
export const LEADER_TRAILER = 'keylease-leader';
export const LEADER_ID_TRAILER = 'keylease-leader-id';
/** Trailer of a busy refusal: milliseconds after which the leader expects to have room for the request. */
export const RETRY_AFTER_TRAILER = 'keylease-retry-after-ms';
/** Trailer set when the request certainly had no effect (it reached no leader), as opposed to unknown. */
export const NOT_APPLIED_TRAILER = 'keylease-not-applied';
/** Sent by an agent opening a RenewStream whose refusals it reads as messages (RenewRefusal): `in-band`. */
export const RENEW_REFUSALS_HEADER = 'keylease-renew-refusals';
