import { createHash } from 'node:crypto';
import type { Renewed, RenewWatermarks } from './coordinator-client.js';

/**
 * What watermarks a renewal carries. The leader parses an EIP-3076 interchange with every renewal that
 * carries one, so they go in full only when the leader may not hold them: they changed since the leader
 * last confirmed them, or the leader said it holds another version (a new leader holds none). Otherwise
 * only their version goes, a digest of the text. A coordinator from before versions confirms none, so
 * it is sent them in full every time, as before.
 */
export class RenewalWatermarks {
  private text = '';
  private version = '';
  /** The version the leader last said it holds. */
  private confirmed = '';

  /** For the next renewal, from the signer's current watermarks ('' when it holds none). */
  next(current: string): RenewWatermarks {
    if (current === '') return {};
    if (current !== this.text) {
      this.text = current;
      this.version = createHash('sha256').update(current).digest('base64url').slice(0, 22);
    }
    return this.confirmed === this.version ? { protectionVersion: this.version } : { slashingProtection: current, protectionVersion: this.version };
  }

  /**
   * Takes in the leader's answer to a renewal that carried `sent`. True when the leader does not hold
   * the watermarks though they went only as a version (it is a new leader): send them in full at once.
   */
  answered(sent: RenewWatermarks, renewed: Renewed): boolean {
    this.confirmed = renewed.protectionVersion;
    return sent.protectionVersion !== undefined && sent.slashingProtection === undefined && renewed.protectionVersion !== sent.protectionVersion;
  }

  /** A new lease: the leader holds nothing of it yet. */
  reset(): void {
    this.confirmed = '';
  }
}
