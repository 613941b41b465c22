import * as assert from 'uvu/assert';
import { CoordinatorCallError } from '../../agent/coordinator-client.js';

/** The coordinator's refusal of `call`; fails the test if the call succeeds or fails otherwise. */
export async function callRefusal(call: Promise<unknown>): Promise<CoordinatorCallError> {
  try {
    await call;
  } catch (error) {
    assert.instance(error, CoordinatorCallError);
    return error as CoordinatorCallError;
  }
  throw new Error('the call was not refused');
}
