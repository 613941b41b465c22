import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../../shared/log/logger.js';
import { MalformedReviewError, parseAdmissionReview, reviewAdmission } from './admission-review.js';
import type { InjectionOptions } from './injection-options.js';
import { formatServerVersion, type ServerVersion } from './server-version.js';

/** Path the MutatingWebhookConfiguration calls. */
export const MUTATE_PATH = '/mutate';
/** An AdmissionReview of a pod is far below this; the API server's own limit on objects is 1.5 MiB. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface WebhookServerParams {
  readonly host: string;
  readonly port: number;
  readonly certPem: string | Buffer;
  readonly keyPem: string | Buffer;
  readonly options: InjectionOptions;
  /** The API server's version now (it can be upgraded under a running webhook). */
  readonly serverVersion: () => ServerVersion;
  readonly logger: Logger;
}

export interface WebhookServer {
  readonly port: number;
  /** Serves new connections with a renewed certificate (cert-manager rotates it in the mounted Secret). */
  updateCertificate(certPem: string | Buffer, keyPem: string | Buffer): void;
  close(): Promise<void>;
}

/**
 * HTTPS server for `admission.k8s.io/v1` AdmissionReviews: `POST /mutate` injects the agent into
 * annotated pods, `GET /healthz` answers the kubelet. It logs each decision, never the pod's spec
 * (env values may hold secrets).
 */
export async function startWebhookServer(params: WebhookServerParams): Promise<WebhookServer> {
  const { logger } = params;
  const server: Server = createServer({ cert: params.certPem, key: params.keyPem, minVersion: 'TLSv1.2' }, (request, response) => {
    handle(request, response, params).catch((error: unknown) => {
      logger.error('admission request failed', { error: error instanceof Error ? error : String(error) });
      if (!response.headersSent) reply(response, 500, 'text/plain', 'internal error; see the webhook logs\n');
    });
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(params.port, params.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info('webhook listening', { address: `${params.host}:${port}`, path: MUTATE_PATH });
  return {
    port,
    updateCertificate: (certPem, keyPem) => {
      server.setSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' });
      logger.info('webhook certificate reloaded');
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(request: IncomingMessage, response: ServerResponse, params: WebhookServerParams): Promise<void> {
  const path = new URL(request.url ?? '/', 'https://webhook').pathname;
  if (path === '/healthz' && request.method === 'GET') return reply(response, 200, 'text/plain', 'ok\n');
  if (path !== MUTATE_PATH) return reply(response, 404, 'text/plain', `POST AdmissionReviews to ${MUTATE_PATH}\n`);
  if (request.method !== 'POST') return reply(response, 405, 'text/plain', `use POST ${MUTATE_PATH}\n`);

  const body = await readBody(request);
  if (body === null) return reply(response, 413, 'text/plain', `an AdmissionReview must be under ${MAX_BODY_BYTES} bytes\n`);
  let admission;
  try {
    admission = parseAdmissionReview(body);
  } catch (error) {
    if (error instanceof MalformedReviewError) return reply(response, 400, 'text/plain', `${error.message}\n`);
    throw error;
  }
  const version = params.serverVersion();
  const { response: review, result } = reviewAdmission(admission, version, params.options);
  if (result !== null) {
    const pod = admission.object as { metadata?: { name?: string; generateName?: string } };
    params.logger.info(result.allowed ? (result.patch.length > 0 ? 'injected agent' : 'pod left unchanged') : 'denied pod', {
      namespace: admission.namespace ?? null,
      pod: pod.metadata?.name || pod.metadata?.generateName || null,
      dryRun: admission.dryRun === true,
      ...(result.allowed ? { form: result.form ?? null, serverVersion: formatServerVersion(version) } : { reason: result.message }),
    });
  }
  reply(response, 200, 'application/json', JSON.stringify(review));
}

/** The body as text, or null when it is larger than MAX_BODY_BYTES. */
async function readBody(request: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function reply(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'content-type': contentType }).end(body);
}
