import { decryptKeystore, parseKeystore } from '../../shared/eth/keystore.js';
import type { GrantedKey, KeyHolder } from '../key-holders.js';
import { SignerError } from './errors.js';
import type { InAgentSigner, KeyToSignWith } from './in-agent-signer.js';

/**
 * The in-agent remote signer as the lease loop's key holder: install() opens the lease's keystores and
 * gives the secrets to the signer; removeAll() takes them all away and returns their watermarks.
 * Keystores open a few at a time: each KDF runs on libuv's thread pool (scrypt at n=2^18 takes 256 MiB),
 * so the event loop keeps answering renewals and sign requests meanwhile.
 */
export class SignerKeyHolder implements KeyHolder {
  readonly name = 'in-agent remote signer';

  constructor(
    private readonly signer: InAgentSigner,
    private readonly options: { readonly decryptConcurrency?: number } = {},
  ) {}

  /** `network`, when given (the grant's), must be the one the signer was built for. */
  async install(keys: readonly GrantedKey[], network?: { readonly genesisValidatorsRoot: string; readonly genesisForkVersion: string }): Promise<void> {
    if (network) this.signer.checkNetwork(network);
    const opened: KeyToSignWith[] = new Array(keys.length);
    let failure: unknown = null;
    let next = 0;
    // Workers stop at the first failure and all finish before the secrets are zeroed, so none is left behind.
    const worker = async () => {
      while (failure === null && next < keys.length) {
        const key = keys[next]!;
        const index = next++;
        try {
          opened[index] = { pubKey: key.pubKey, secretKey: await openKeystore(key), slashingProtection: key.slashingProtection };
        } catch (error) {
          failure ??= error;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(keys.length, this.options.decryptConcurrency ?? 2) }, worker));
      if (failure !== null) throw failure;
      await this.signer.install(opened);
    } finally {
      for (const key of opened) key?.secretKey.fill(0);
    }
  }

  removeAll(): Promise<{ slashingProtection: string | null; pubKeys: readonly string[] }> {
    return this.signer.removeAll();
  }

  setDeadline(deadlineMonotonicMs: number | null): void {
    this.signer.setDeadline(deadlineMonotonicMs);
  }

  currentProtection(): string | null {
    return this.signer.currentProtection();
  }
}

async function openKeystore(key: GrantedKey): Promise<Uint8Array> {
  try {
    return await decryptKeystore(parseKeystore(key.keystoreJson), key.keystorePassword);
  } catch (error) {
    // Keystore errors never carry the password or the secret.
    throw new SignerError('SIGNER_KEY', `the keystore of ${key.pubKey} did not open: ${(error as Error).message}`, { cause: error });
  }
}
