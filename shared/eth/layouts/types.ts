/** The on-disk layouts the agent can write, one per validator client (and `plain`). Order is part of the interface. */
export const LAYOUT_NAMES = ['lighthouse', 'teku', 'nimbus', 'lodestar', 'prysm', 'web3signer', 'plain'] as const;
export type LayoutName = (typeof LAYOUT_NAMES)[number];

/** One validator key as the coordinator hands it over. */
export interface KeyToWrite {
  /** 0x + 96 lowercase hex digits. */
  readonly pubKey: string;
  /** An EIP-2335 keystore, JSON text. */
  readonly keystoreJson: string;
  readonly keystorePassword: string;
}

export interface KeyLayout {
  readonly name: LayoutName;
  /** Writes every key atomically (temp file + fsync + rename, dirs fsynced), then the ready marker last. Replaces whatever an earlier write left. */
  write(outDir: string, keys: readonly KeyToWrite[]): Promise<void>;
  /** Removes the ready marker FIRST, then every file/dir this layout writes (keystores, secrets, configs), fsyncs; idempotent; fine on an empty or missing dir; never deletes files it does not own. */
  remove(outDir: string): Promise<void>;
}
