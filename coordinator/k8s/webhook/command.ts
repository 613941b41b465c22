import { runCommand, shutdownSignal } from '../../../shared/cli/run-command.js';
import { LOG_LEVEL_FLAGS, logLevelOf, parseListenAddress, type CommandSpec, type FlagValues } from '../../../shared/cli/flags.js';
import { createLogger } from '../../../shared/log/logger.js';
import { loadKubeClient } from '../kube-config.js';
import { trackServerVersion } from './server-version-tracker.js';
import { ReloadingTls } from '../../../shared/tls/reloading-tls.js';
import { PRESET_NAMES } from '../../../shared/eth/consensus-preset.js';
import { injectionOptions, type InjectionOptions } from './injection-options.js';
import { startWebhookServer } from './server.js';
import { listenOn } from '../../../shared/net/listen.js';

export const WEBHOOK_COMMAND: CommandSpec = {
  name: 'webhook',
  summary: 'Runs the mutating admission webhook that injects the keylease agent into validator pods annotated keylease.io/inject: "true".',
  flags: [
    { name: 'listen', kind: 'string', default: '0.0.0.0:8443', description: 'HOST:PORT to serve AdmissionReviews on, over HTTPS.' },
    { name: 'tls-cert-file', kind: 'string', required: true, description: 'PEM serving certificate; its names must cover the webhook Service (reloaded when the file changes).' },
    { name: 'tls-key-file', kind: 'string', required: true, description: 'PEM private key of --tls-cert-file.' },
    { name: 'agent-image', kind: 'string', required: true, description: 'Image the injected agent runs (this keylease image).' },
    { name: 'agent-image-pull-policy', kind: 'string', default: 'IfNotPresent', choices: ['Always', 'IfNotPresent', 'Never'], description: 'imagePullPolicy of the injected agent.' },
    { name: 'coordinator', kind: 'string', required: true, description: 'The agents\' --coordinator: HOST:PORT[,HOST:PORT…] of the coordinators\' gRPC API.' },
    { name: 'coordinator-ca-configmap', kind: 'string', description: 'ConfigMap (in each validator namespace) whose ca.crt signed the coordinators\' certificates; without it agents talk plaintext.' },
    { name: 'max-keys-per-pod', kind: 'int', default: 64, min: 1, max: 10_000, description: 'Largest keylease.io/keys accepted (match the coordinator\'s --max-keys-per-claim).' },
    { name: 'native-sidecars', kind: 'string', default: 'auto', choices: ['auto', 'always', 'never'], description: 'Inject the agent as a native sidecar: auto (when the API server is 1.29 or newer), always, or never (nodes older than the control plane).' },
    { name: 'lease-ttl-ms', kind: 'int', default: 30_000, min: 2000, max: 3_600_000, description: 'The coordinators\' --lease-ttl-ms: in files and keymanager modes the validator client must be killed within half of it after its agent fences.' },
    { name: 'agent-signer-preset', kind: 'string', default: 'mainnet', choices: PRESET_NAMES, description: 'Signer mode: the consensus preset of the pool\'s network, given to every injected agent (minimal for devnets such as lodestar dev).' },
    { name: 'kubeconfig', kind: 'string', description: 'Kubeconfig to read the API server version with (default: the pod\'s ServiceAccount).' },
    ...LOG_LEVEL_FLAGS,
  ],
};

export function webhookOptions(values: FlagValues): InjectionOptions {
  return injectionOptions({
    agentImage: values['agent-image'] as string,
    agentImagePullPolicy: values['agent-image-pull-policy'] as InjectionOptions['agentImagePullPolicy'],
    coordinatorEndpoints: values['coordinator'] as string,
    coordinatorCaConfigMap: (values['coordinator-ca-configmap'] as string | undefined) ?? null,
    maxKeysPerPod: values['max-keys-per-pod'] as number,
    nativeSidecars: values['native-sidecars'] as InjectionOptions['nativeSidecars'],
    leaseTtlMs: values['lease-ttl-ms'] as number,
    signerPreset: values['agent-signer-preset'] as InjectionOptions['signerPreset'],
  });
}

/** `keylease webhook`: wiring only. */
export function webhookMain(argv: string[]): Promise<void> {
  return runCommand(WEBHOOK_COMMAND, argv, async (values) => {
    const logger = createLogger({ level: logLevelOf(values), component: 'webhook' });
    const options = webhookOptions(values);
    const listen = parseListenAddress(values['listen'] as string, 'listen');
    const certFile = values['tls-cert-file'] as string;
    const keyFile = values['tls-key-file'] as string;
    const serverVersion = await trackServerVersion(loadKubeClient((values['kubeconfig'] as string | undefined) ?? null), logger);
    // cert-manager renews the Secret in place: checked first, then served to new connections.
    const certificate = await ReloadingTls.watch({ caFile: null, certFile, keyFile }, { logger });
    const server = await listenOn(listen, 'listen', () =>
      startWebhookServer({
        host: listen.host,
        port: listen.port,
        certPem: certificate.current.certPem!,
        keyPem: certificate.current.keyPem!,
        options,
        serverVersion: serverVersion.current,
        logger,
      }),
    );
    certificate.subscribe((material) => server.updateCertificate(material.certPem!, material.keyPem!));
    const signal = await shutdownSignal();
    logger.info('shutting down', { signal });
    certificate.close();
    serverVersion.stop();
    await server.close();
  });
}
