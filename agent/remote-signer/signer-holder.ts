import type { Clock } from '../../shared/clock/clock.js';
import { listenOn } from '../../shared/net/listen.js';
import type { Logger } from '../../shared/log/logger.js';
import type { GrantedKey, GrantNetwork, KeyHolder } from '../key-holders.js';
import { InAgentSigner, SignerKeyHolder, startRemoteSignerServer, type PresetName } from '../signer/index.js';

export interface SignerHolderOptions {
  readonly listen: { readonly host: string; readonly port: number };
  readonly stateDir: string;
  readonly preset: PresetName;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Remote-signer mode (S6): the keys stay in the agent, which serves the Ethereum remote signing API on
 * the pod's loopback. The signer is built at the first grant, from the network the coordinator names
 * (one source of truth: the pod has no network flag to get wrong), and its server starts then; later
 * grants must be for the same network. Nothing is signed at or after the lease loop's deadline.
 */
export class SignerHolder implements KeyHolder {
  readonly name = 'remote signer';
  private signer: InAgentSigner | null = null;
  private keys: SignerKeyHolder | null = null;
  private server: { port: number; close(): Promise<void> } | null = null;
  private deadlineMs: number | null = null;

  constructor(private readonly options: SignerHolderOptions) {}

  /** Where the signer listens, once it does. */
  get port(): number | null {
    return this.server?.port ?? null;
  }

  async install(keys: readonly GrantedKey[], network: GrantNetwork): Promise<void> {
    if (!this.signer) {
      const { clock, logger, stateDir, preset, listen } = this.options;
      const signer = new InAgentSigner({ clock, logger, stateDir, preset, genesisValidatorsRoot: network.genesisValidatorsRoot, genesisForkVersion: network.genesisForkVersion });
      this.server = await listenOn(listen, 'signer-listen', () => startRemoteSignerServer(signer, listen.host, listen.port, logger.child({ component: 'signer' })));
      this.signer = signer;
      this.keys = new SignerKeyHolder(signer);
      logger.info('remote signer listening', { signer: `${listen.host}:${this.server.port}`, genesisValidatorsRoot: network.genesisValidatorsRoot, preset });
    }
    await this.keys!.install(keys, network);
    // Installing resets the signer's cutoff: the lease loop's deadline applies from the first key on.
    this.signer.setDeadline(this.deadlineMs);
  }

  async removeAll(): Promise<{ slashingProtection: string | null; pubKeys: readonly string[] }> {
    if (!this.keys) return { slashingProtection: null, pubKeys: [] };
    return this.keys.removeAll();
  }

  setDeadline(deadlineMonotonicMs: number | null): void {
    this.deadlineMs = deadlineMonotonicMs;
    this.signer?.setDeadline(deadlineMonotonicMs);
  }

  currentProtection(): string | null {
    return this.signer?.currentProtection() ?? null;
  }

  async close(): Promise<void> {
    await this.server?.close();
    await this.signer?.close();
  }
}
