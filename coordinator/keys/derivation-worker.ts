/**
 * Worker-thread side of key derivation: a key costs ~75 ms of CPU (EIP-2333 derivation ~4 ms, the
 * keystore's pbkdf2 the rest), which must not stall the event loop that answers renewals. All of it
 * runs on this thread, synchronously (see encryptKeystoreSync). Private keys exist only in this
 * thread; the main thread receives keys already sealed under the KEK.
 */
import { parentPort } from 'node:worker_threads';
import { deriveSigningKeyFromRoot, deriveValidatorRootKey } from './derive.js';
import { sealNewKey } from './pool-key.js';
import type { DerivationReply, DerivationRequest } from './derivation-protocol.js';

const port = parentPort!;

port.on('message', (request: DerivationRequest) => derive(request));

function derive(request: DerivationRequest): void {
  const kek = Buffer.from(request.kek);
  const seed = new Uint8Array(request.seed);
  let rootKey: Uint8Array | null = null;
  try {
    rootKey = deriveValidatorRootKey(seed);
    for (let i = 0; i < request.count; i++) {
      const index = request.fromIndex + i;
      const { privKey, pubKey, path } = deriveSigningKeyFromRoot(rootKey, index);
      try {
        const sealed = sealNewKey(kek, privKey, pubKey, path);
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
