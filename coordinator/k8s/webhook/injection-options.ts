import { PRESET_NAMES, type PresetName } from '../../../shared/eth/consensus-preset.js';
import { ConfigError } from '../../../shared/errors/keylease-error.js';


/** What a deployment chooses about injection; everything else about the sidecar is fixed in agent-sidecar.ts. */
export interface InjectionOptions {
  /** The keylease image the agent runs (the same image as the coordinator's). */
  readonly agentImage: string;
  readonly agentImagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** The agent's --coordinator: HOST:PORT[,HOST:PORT…] of the coordinators' gRPC API. */
  readonly coordinatorEndpoints: string;
  /**
   * A ConfigMap in the validator pod's namespace whose `ca.crt` signed the coordinators' certificates
   * (e.g. distributed by trust-manager). Null: the agent talks plaintext (development only).
   */
  readonly coordinatorCaConfigMap: string | null;
  /** Most keys one pod may ask for (match the coordinator's --max-keys-per-claim). */
  readonly maxKeysPerPod: number;
  /**
   * 'auto' injects a native sidecar where the API server supports it (≥ 1.29). 'never' is for clusters whose
   * nodes are older than the control plane (kubelets before 1.29 ignore `restartPolicy` on init containers).
   */
  readonly nativeSidecars: 'auto' | 'always' | 'never';
  /**
   * The coordinators' lease TTL (their --lease-ttl-ms): where the client is restarted on a fence, its kill
   * must fit in the part of the lease the agent may give up early (client-restart.ts).
   */
  readonly leaseTtlMs: number;
  /**
   * The consensus preset of the pool's network (the agent's --signer-preset in signer mode). The coordinators
   * grant the network's root and fork version but not its preset: a minimal-preset devnet needs it said here.
   */
  readonly signerPreset: PresetName;
  readonly agentResources: {
    readonly requests: { readonly cpu: string; readonly memory: string };
    readonly limits: { readonly memory: string };
  };
}

export const DEFAULT_INJECTION_OPTIONS: Omit<InjectionOptions, 'agentImage' | 'coordinatorEndpoints'> = {
  agentImagePullPolicy: 'IfNotPresent',
  coordinatorCaConfigMap: null,
  maxKeysPerPod: 64,
  nativeSidecars: 'auto',
  // The coordinator's default --lease-ttl-ms.
  leaseTtlMs: 30_000,
  signerPreset: 'mainnet',
  // No CPU limit on purpose: a throttled agent renews late and fences itself, taking the keys offline.
  // Memory (npm run bench:footprint, 100 keys, with AGENT_NODE_OPTIONS): 52-55 MiB steady and peak, about 14 MiB
  // of it the agent's own (the rest the node binary's shared pages); the request leaves headroom, and the limit room for
  // one scrypt keystore (256 MiB while it opens), which the Prysm layout decrypts.
  agentResources: { requests: { cpu: '25m', memory: '96Mi' }, limits: { memory: '384Mi' } },
};

/** Fills in defaults and refuses what would inject a broken sidecar. */
export function injectionOptions(given: Partial<InjectionOptions> & Pick<InjectionOptions, 'agentImage' | 'coordinatorEndpoints'>): InjectionOptions {
  const options = { ...DEFAULT_INJECTION_OPTIONS, ...given };
  if (options.agentImage.trim() === '') throw new ConfigError('the agent image is empty: give the keylease image, e.g. ghcr.io/example/keylease:0.1.0');
  if (!/^[^\s,]+:\d+(,[^\s,]+:\d+)*$/.test(options.coordinatorEndpoints)) {
    throw new ConfigError(`coordinator endpoints ${JSON.stringify(options.coordinatorEndpoints.slice(0, 200))} are not HOST:PORT[,HOST:PORT…]`);
  }
  if (!Number.isInteger(options.maxKeysPerPod) || options.maxKeysPerPod < 1) throw new ConfigError('the most keys per pod must be a whole number of at least 1');
  if (!Number.isInteger(options.leaseTtlMs) || options.leaseTtlMs < 2000) throw new ConfigError('the lease TTL must be a whole number of milliseconds, at least 2000 (the coordinator\'s smallest --lease-ttl-ms)');
  if (!['auto', 'always', 'never'].includes(options.nativeSidecars)) throw new ConfigError(`native sidecars ${JSON.stringify(options.nativeSidecars)}: use auto, always or never`);
  if (!(PRESET_NAMES as readonly string[]).includes(options.signerPreset)) throw new ConfigError(`signer preset ${JSON.stringify(options.signerPreset)}: use ${PRESET_NAMES.join(' or ')}`);
  if (!['Always', 'IfNotPresent', 'Never'].includes(options.agentImagePullPolicy)) throw new ConfigError(`image pull policy ${JSON.stringify(options.agentImagePullPolicy)}: use Always, IfNotPresent or Never`);
  return options;
}
