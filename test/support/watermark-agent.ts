/**
 * An agent process for tests: the agent's own lease loop and coordinator client, holding one key in
 * memory as a remote signer, with the watermarks its parent tells it it has signed up to. It reports,
 * over IPC, each renewal the leader answered (and whether it carried the watermarks in full) and each
 * fence. A SIGKILL of it is an agent dying. Started by WatermarkAgent below.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CoordinatorClient, type RenewWatermarks } from '../../agent/coordinator-client.js';
import { LeaseLoop } from '../../agent/lease-loop.js';
import { systemClock } from '../../shared/clock/clock.js';
import { serializeInterchange } from '../../shared/eth/slashing-protection/index.js';
import { silentLogger } from '../../shared/log/logger.js';
import { InMemoryValidator } from './fleet.js';

interface Signed {
  readonly blockSlot: bigint;
  readonly sourceEpoch: bigint;
  readonly targetEpoch: bigint;
}

type ToAgent = { readonly type: 'signed'; readonly blockSlot: string; readonly sourceEpoch: string; readonly targetEpoch: string };
type FromAgent =
  | { readonly type: 'holding'; readonly leaseId: string; readonly pubKey: string }
  | { readonly type: 'renewed'; readonly full: boolean }
  | { readonly type: 'fenced'; readonly cause: string };

/** The parent's handle on one agent process. */
export class WatermarkAgent {
  /** Renewals the leader answered, in order: true where the watermarks went in full. */
  readonly renewals: boolean[] = [];
  readonly fences: string[] = [];
  holding: { leaseId: string; pubKey: string } | null = null;
  private readonly child: ChildProcess;

  constructor(endpoints: readonly string[], podName: string) {
    this.child = fork(fileURLToPath(import.meta.url), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, KEYLEASE_TEST_AGENT: JSON.stringify({ endpoints, podName }) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (message: FromAgent) => {
      if (message.type === 'holding') this.holding = { leaseId: message.leaseId, pubKey: message.pubKey };
      else if (message.type === 'renewed') this.renewals.push(message.full);
      else this.fences.push(message.cause);
    });
  }

  /** From now on the agent has signed up to these (EIP-3076 watermarks of its key). */
  signed(marks: Signed): void {
    this.child.send({ type: 'signed', blockSlot: String(marks.blockSlot), sourceEpoch: String(marks.sourceEpoch), targetEpoch: String(marks.targetEpoch) } satisfies ToAgent);
  }

  kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGKILL');
    });
  }
}

/** The child: runs when this file is the process's entry. */
async function runAgent(config: { endpoints: string[]; podName: string }): Promise<void> {
  const send = (message: FromAgent) => process.send!(message);
  let signed: Signed | null = null;
  process.on('message', (message: ToAgent) => {
    signed = { blockSlot: BigInt(message.blockSlot), sourceEpoch: BigInt(message.sourceEpoch), targetEpoch: BigInt(message.targetEpoch) };
  });

  class SigningValidator extends InMemoryValidator {
    private genesisValidatorsRoot = '';
    override async install(keys: Parameters<InMemoryValidator['install']>[0], network: Parameters<InMemoryValidator['install']>[1]): Promise<void> {
      this.genesisValidatorsRoot = network.genesisValidatorsRoot;
      await super.install(keys, network);
      send({ type: 'holding', leaseId: loop.leaseId ?? '', pubKey: keys[0]!.pubKey });
    }
    currentProtection(): string | null {
      if (this.keys.length === 0 || signed === null) return null;
      const marks = signed as Signed;
      return serializeInterchange({
        metadata: { interchangeFormatVersion: '5', genesisValidatorsRoot: this.genesisValidatorsRoot },
        data: this.keys.map((k) => ({ pubkey: k.pubKey, signedBlocks: [{ slot: marks.blockSlot }], signedAttestations: [{ sourceEpoch: marks.sourceEpoch, targetEpoch: marks.targetEpoch }] })),
      });
    }
  }

  /** The agent's own client; each renewal the leader answered is reported. */
  class ReportingClient extends CoordinatorClient {
    override async renew(podName: string, leaseId: string, timeoutMs: number, watermarks: RenewWatermarks = {}, sentAtMs?: number, reuseSentAfterMs?: number): ReturnType<CoordinatorClient['renew']> {
      const renewed = await super.renew(podName, leaseId, timeoutMs, watermarks, sentAtMs, reuseSentAfterMs);
      send({ type: 'renewed', full: renewed.answered.watermarks.slashingProtection !== undefined });
      return renewed;
    }
  }

  const loop: LeaseLoop = new LeaseLoop({
    podName: config.podName,
    pool: 'default',
    keyCount: 1,
    holder: new SigningValidator(),
    signingMode: 'signer',
    client: new ReportingClient(config.endpoints),
    clock: systemClock,
    logger: silentLogger,
    fenceMarginMs: 0,
    requestTimeoutMs: 5000,
    observer: { onClaim: () => {}, onRenewal: () => {}, onFence: (cause) => send({ type: 'fenced', cause }) },
  });
  await loop.start();
}

const config = process.env['KEYLEASE_TEST_AGENT'];
if (config && process.send) void runAgent(JSON.parse(config) as { endpoints: string[]; podName: string });
