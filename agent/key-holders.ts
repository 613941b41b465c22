import type { KeyLayout, KeyToWrite } from '../shared/eth/layouts/types.js';
import { mergeInterchanges, parseInterchange, serializeInterchange, interchangeFor, type Interchange } from '../shared/eth/slashing-protection/index.js';
import type { Logger } from '../shared/log/logger.js';
import { AgentError } from './errors.js';
import type { KeymanagerClient } from './keymanager/client.js';

/** A key as the coordinator hands it out: keystore, password and its slashing protection. */
export interface GrantedKey extends KeyToWrite {
  /** EIP-3076 interchange for this key; empty when the coordinator knows no history for it. */
  readonly slashingProtection: string;
}

/**
 * Where the validator client gets its keys from. `install` gives it exactly the lease's keys;
 * `removeAll` takes every key away so the client can no longer sign with any (the fence) and returns
 * the slashing protection the client gave back, if it gave any. A removal that cannot be proven throws.
 */
export interface KeyHolder {
  readonly name: string;
  install(keys: readonly GrantedKey[]): Promise<void>;
  removeAll(): Promise<{ slashingProtection: string | null }>;
}

/** Keystore files in the validator client's layout, in a volume it reads. No slashing protection comes back. */
export class FileKeyHolder implements KeyHolder {
  readonly name: string;

  constructor(
    private readonly layout: KeyLayout,
    private readonly outDir: string,
  ) {
    this.name = `${layout.name} files`;
  }

  install(keys: readonly GrantedKey[]): Promise<void> {
    return this.layout.write(this.outDir, keys);
  }

  async removeAll(): Promise<{ slashingProtection: string | null }> {
    await this.layout.remove(this.outDir);
    return { slashingProtection: null };
  }
}

/**
 * The validator client's Keymanager API: import with slashing protection, DELETE (which stops signing
 * and returns the client's protection), and GET to prove the client holds exactly what it should.
 */
export class KeymanagerKeyHolder implements KeyHolder {
  readonly name = 'keymanager API';
  /** Slashing protection the client returned for keys removed before this lease: imported with them. */
  private carried: Interchange | null = null;
  private held: string[] = [];

  constructor(
    private readonly client: KeymanagerClient,
    private readonly logger: Logger,
  ) {}

  /**
   * On start: whatever the client holds was left by an earlier run of this agent, under no live lease
   * we know of. It is removed before anything is claimed; its protection is kept for the re-import.
   */
  async removeLeftovers(): Promise<number> {
    const listed = (await this.client.listKeystores()).filter((key) => !key.readOnly).map((key) => key.validatingPubkey);
    if (listed.length === 0) return 0;
    const fenced = await this.client.fence(listed);
    if (fenced.slashingProtection) this.carried = fenced.slashingProtection;
    else this.logger.warn('the validator client returned unreadable slashing protection for leftover keys', { problem: fenced.slashingProtectionProblem });
    return listed.length;
  }

  async install(keys: readonly GrantedKey[]): Promise<void> {
    const pubKeys = keys.map((key) => key.pubKey.toLowerCase());
    let protection = this.carried ? interchangeFor(this.carried, pubKeys) : null;
    for (const key of keys) {
      if (!key.slashingProtection) continue;
      const fromPool = parseInterchange(key.slashingProtection);
      protection = protection ? mergeInterchanges(protection, fromPool) : fromPool;
    }
    const results = await this.client.importKeystores({
      keystores: keys.map((key) => key.keystoreJson),
      passwords: keys.map((key) => key.keystorePassword),
      ...(protection ? { slashingProtection: serializeInterchange(protection) } : {}),
    });
    this.held = pubKeys;
    const refused = results.map((result, i) => ({ ...result, pubKey: pubKeys[i] })).filter((result) => result.status === 'error');
    if (refused.length > 0) {
      throw new AgentError('KEYMANAGER_IMPORT', `the validator client refused ${refused.map((r) => `${r.pubKey}${r.message ? ` (${r.message})` : ''}`).join(', ')}`);
    }
    const report = await this.client.verifyHeldExactly(pubKeys);
    if (!report.exact) {
      throw new AgentError('KEYMANAGER_MISMATCH', `after import the validator client is missing ${report.missing.join(', ') || 'none'} and holds ${report.unexpected.join(', ') || 'none'} it should not`);
    }
    this.carried = null;
  }

  async removeAll(): Promise<{ slashingProtection: string | null }> {
    const listed = (await this.client.listKeystores()).filter((key) => !key.readOnly).map((key) => key.validatingPubkey);
    const pubKeys = [...new Set([...this.held, ...listed])];
    if (pubKeys.length === 0) return { slashingProtection: null };
    const fenced = await this.client.fence(pubKeys);
    this.held = [];
    if (!fenced.slashingProtection) {
      this.logger.warn('keys removed, but the validator client\'s slashing protection was unreadable: the keys will cool down', { problem: fenced.slashingProtectionProblem });
      return { slashingProtection: null };
    }
    return { slashingProtection: serializeInterchange(fenced.slashingProtection) };
  }
}

/** Files and API together, for clients that read a volume and are also managed over the API. */
export class CombinedKeyHolder implements KeyHolder {
  readonly name: string;

  constructor(private readonly holders: readonly KeyHolder[]) {
    this.name = holders.map((h) => h.name).join(' + ');
  }

  async install(keys: readonly GrantedKey[]): Promise<void> {
    for (const holder of this.holders) await holder.install(keys);
  }

  async removeAll(): Promise<{ slashingProtection: string | null }> {
    let merged: Interchange | null = null;
    const failures: unknown[] = [];
    // Every holder is emptied even if one fails: the fence must take away all it can.
    for (const holder of this.holders) {
      try {
        const { slashingProtection } = await holder.removeAll();
        if (slashingProtection) merged = merged ? mergeInterchanges(merged, parseInterchange(slashingProtection)) : parseInterchange(slashingProtection);
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
    return { slashingProtection: merged ? serializeInterchange(merged) : null };
  }
}

