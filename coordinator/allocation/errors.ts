import { KeyleaseError } from '../../shared/errors/keylease-error.js';

/**
 * A claim on the pool this coordinator's flags configure, before the leader has created it: right after a
 * new cluster's first election (the leader proposes the pool's settings once it leads). Answered as
 * "retry shortly", not refused: agents stop on a refusal, and these had only come a moment early.
 */
export class PoolNotReadyError extends KeyleaseError {
  constructor(pool: string) {
    super('POOL_NOT_READY', `pool ${JSON.stringify(pool)} is being set up by the new leader: retry shortly`);
  }
}
