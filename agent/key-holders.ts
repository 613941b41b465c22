import type { KeyLayout, KeyToWrite } from '../shared/eth/layouts/types.js';
import { mergeInterchanges, parseInterchange, serializeInterchange, interchangeFor, type Interchange } from '../shared/eth/slashing-protection/index.js';
import type { Logger } from '../shared/log/logger.js';
import { AgentError } from './errors.js';
import { FenceFailedError } from './keymanager/errors.js';
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
  install(keys: readonly GrantedKey[], network: GrantNetwork): Promise<void>;
  removeAll(): Promise<{ slashingProtection: string | null; pubKeys?: readonly string[] }>;
  /** Remote-signer mode: nothing is signed at or after this monotonic time; null signs nothing. */
  setDeadline?(deadlineMonotonicMs: number | null): void;
  /** Remote-signer mode: an EIP-3076 interchange of what was signed so far, for renewals. */
  currentProtection?(): string | null;
}

/** The pool's network, as the coordinator grants it with the keys. */
export interface GrantNetwork {
  readonly genesisValidatorsRoot: string;
  readonly genesisForkVersion: string;
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

  install(keys: readonly GrantedKey[], _network: GrantNetwork): Promise<void> {
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
  /** Protection from DELETE answers of a removal not yet proven. */
  private salvaged: Interchange | null = null;
  /** Keys whose removal was asked for but not yet proven: every later removal includes them. */
  private readonly unproven = new Set<string>();
  private held: string[] = [];

  constructor(
    private readonly client: KeymanagerClient,
    private readonly logger: Logger,
  ) {}

  /**
   * DELETE, then GET to prove it. A failed proof throws; the protection every DELETE answered with is
   * kept and merged, so the export of a DELETE that did not stop the key (Lodestar 1.5.1 answers
   * `deleted` to the first and keeps signing) is not lost when a later one succeeds.
   */
  private async removeProven(pubKeys: readonly string[]): Promise<Interchange | null> {
    for (const pubKey of pubKeys) this.unproven.add(pubKey);
    try {
      const fenced = await this.client.fence(pubKeys);
      this.salvage(fenced.slashingProtection);
      if (!fenced.slashingProtection) this.logger.warn('keys removed, but the validator client\'s slashing protection was unreadable', { problem: fenced.slashingProtectionProblem });
    } catch (error) {
      if (error instanceof FenceFailedError) this.salvage(error.slashingProtection);
      throw error;
    }
    for (const pubKey of pubKeys) this.unproven.delete(pubKey);
    const protection = this.salvaged;
    this.salvaged = null;
    return protection;
  }

  private salvage(protection: Interchange | null): void {
    if (protection) this.salvaged = this.salvaged ? mergeInterchanges(this.salvaged, protection) : protection;
  }

  async install(keys: readonly GrantedKey[], _network: GrantNetwork): Promise<void> {
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
    this.carried = this.carried ? interchangeFor(this.carried, []) : null;
  }

  async removeAll(): Promise<{ slashingProtection: string | null; pubKeys: readonly string[] }> {
    const listed = (await this.client.listKeystores()).filter((key) => !key.readOnly).map((key) => key.validatingPubkey);
    const pubKeys = [...new Set([...this.held, ...listed, ...this.unproven])];
    if (pubKeys.length === 0) return { slashingProtection: null, pubKeys };
    const protection = await this.removeProven(pubKeys);
    this.held = [];
    // Kept for a re-import of any of these keys (an agent restarted in its pod gets its lease back).
    if (protection) this.carried = this.carried ? mergeInterchanges(this.carried, protection) : protection;
    return { slashingProtection: protection ? serializeInterchange(protection) : null, pubKeys };
  }
}

/**
 * Several holders for one client: files and API together, or the agent's signer and the client's list
 * of remote keys. `holders` is in removal order (the client lets go first, then the signer drops the
 * keys); installation runs in reverse, so a key is signable before the client is told of it.
 */
export class CombinedKeyHolder implements KeyHolder {
  readonly name: string;

  constructor(private readonly holders: readonly KeyHolder[]) {
    this.name = holders.map((h) => h.name).join(' + ');
  }

  async install(keys: readonly GrantedKey[], network: GrantNetwork): Promise<void> {
    for (const holder of [...this.holders].reverse()) await holder.install(keys, network);
  }

  async removeAll(): Promise<{ slashingProtection: string | null; pubKeys?: readonly string[] }> {
    let merged: Interchange | null = null;
    const failures: unknown[] = [];
    const pubKeys = new Set<string>();
    // Every holder is emptied even if one fails: the fence must take away all it can.
    for (const holder of this.holders) {
      try {
        const removed = await holder.removeAll();
        for (const pubKey of removed.pubKeys ?? []) pubKeys.add(pubKey);
        if (removed.slashingProtection) merged = merged ? mergeInterchanges(merged, parseInterchange(removed.slashingProtection)) : parseInterchange(removed.slashingProtection);
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
    return { slashingProtection: merged ? serializeInterchange(merged) : null, pubKeys: [...pubKeys] };
  }

  setDeadline(deadlineMonotonicMs: number | null): void {
    for (const holder of this.holders) holder.setDeadline?.(deadlineMonotonicMs);
  }

  currentProtection(): string | null {
    for (const holder of this.holders) {
      const protection = holder.currentProtection?.();
      if (protection) return protection;
    }
    return null;
  }
}
