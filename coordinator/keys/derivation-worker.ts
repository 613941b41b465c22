/**
 * Worker-thread side of key derivation: EIP-2333 derivation is CPU-bound (~20 ms a key) and must not
 * stall the event loop that answers renewals. Private keys exist only in this thread; the main
 * thread receives keys already sealed under the KEK.
 */
import { parentPort } from 'node:worker_threads';
import { deriveSigningKeyFromRoot, deriveValidatorRootKey } from './derive.js';
import { sealNewKey } from './pool-key.js';
import type { DerivationReply, DerivationRequest } from './derivation-protocol.js';

const port = parentPort!;

port.on('message', (request: DerivationRequest) => {
  void derive(request);
});

async function derive(request: DerivationRequest): Promise<void> {
  const kek = Buffer.from(request.kek);
  const seed = new Uint8Array(request.seed);
  let rootKey: Uint8Array | null = null;
  try {
    rootKey = deriveValidatorRootKey(seed);
    for (let i = 0; i < request.count; i++) {
      const index = request.fromIndex + i;
      const { privKey, pubKey, path } = deriveSigningKeyFromRoot(rootKey, index);
      try {
        const sealed = await sealNewKey(kek, privKey, pubKey, path);
        port.postMessage({ requestId: request.requestId, type: 'key', key: { ...sealed, derivationIndex: index } } satisfies DerivationReply);
      } finally {
        privKey.fill(0);
      }
    }
    port.postMessage({ requestId: request.requestId, type: 'done' } satisfies DerivationReply);
  } catch (error) {
    port.postMessage({ requestId: request.requestId, type: 'error', message: error instanceof Error ? error.message : String(error) } satisfies DerivationReply);
  } finally {
    kek.fill(0);
    seed.fill(0);
    rootKey?.fill(0);
  }
}
