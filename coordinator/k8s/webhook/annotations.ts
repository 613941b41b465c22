import { LAYOUT_NAMES, type LayoutName } from '../../../shared/eth/layouts/types.js';
import { podNameProblem, poolNameProblem } from '../../../shared/names/pod-name.js';
import type { PodJson } from './pod-json.js';

/** The pod annotations operators write (DESIGN.md, "Interfaces others rely on"), plus the one injection adds. */
export const ANNOTATION = {
  inject: 'keylease.io/inject',
  /** How the client gets its signatures: signer (the default), files or keymanager. */
  mode: 'keylease.io/mode',
  keys: 'keylease.io/keys',
  pool: 'keylease.io/pool',
  layout: 'keylease.io/layout',
  keymanagerUrl: 'keylease.io/keymanager-url',
  /** A Secret in the pod's namespace whose `ca.crt` the agent trusts for an https:// Keymanager API. */
  keymanagerCaSecret: 'keylease.io/keymanager-ca-secret',
  container: 'keylease.io/container',
  /** Written by injection: which form was injected. Read by nobody but people. */
  injected: 'keylease.io/injected',
} as const;

/**
 * The label the MutatingWebhookConfiguration's objectSelector matches. Selectors see labels only, so a
 * pod opts in with this label (the webhook is called) and the annotations (what to inject).
 */
export const INJECT_LABEL = 'keylease.io/inject';

const KNOWN_ANNOTATIONS = new Set<string>(Object.values(ANNOTATION));

/**
 * How the validator client gets its signatures:
 * - signer: the agent is the client's remote signer on the pod's loopback; keys never leave the agent, and
 *   a dead or fenced agent signs nothing. With a layout (Lighthouse only) the agent writes the client's
 *   web3signer definitions; with a Keymanager API it registers its keys as remote keys.
 * - files: the agent writes keystores in the client's layout (a running client keeps what it loaded, so
 *   the client is restarted when the agent fences).
 * - keymanager: the agent imports keystores through the client's Keymanager API (likewise restarted).
 */
export const INJECTION_MODES = ['signer', 'files', 'keymanager'] as const;
export type InjectionMode = (typeof INJECTION_MODES)[number];
export const DEFAULT_MODE: InjectionMode = 'signer';
/** The only layout signer mode writes: Lighthouse's validator_definitions.yml with web3signer entries, no keystores. */
export const SIGNER_LAYOUTS: readonly LayoutName[] = ['lighthouse'];

/** What an annotated pod asks for, validated. */
export interface InjectionRequest {
  readonly mode: InjectionMode;
  readonly keyCount: number;
  readonly pool: string;
  /** Null when the client reads no files from the agent (signer mode but Lighthouse's, keymanager mode). */
  readonly layout: LayoutName | null;
  readonly keymanagerUrl: string | null;
  /** Secret holding `ca.crt` for an https:// Keymanager API with its own certificate (Teku's). */
  readonly keymanagerCaSecret: string | null;
  /** Index in spec.containers of the validator client container. */
  readonly validatorIndex: number;
}

export type AnnotationReading =
  | { readonly kind: 'not-requested' }
  | { readonly kind: 'requested'; readonly request: InjectionRequest }
  | { readonly kind: 'malformed'; readonly problems: readonly string[] };

/**
 * Reads the keylease.io/* annotations. Every problem is collected, so one denial tells the operator all
 * that is wrong. `maxKeys` is the most keys one pod may claim (the coordinator's --max-keys-per-claim).
 */
export function readAnnotations(pod: PodJson, maxKeys: number): AnnotationReading {
  const annotations = pod.metadata?.annotations ?? {};
  const inject = annotations[ANNOTATION.inject];
  const labelledForInjection = pod.metadata?.labels?.[INJECT_LABEL] === 'true';
  if (inject === undefined || inject === 'false') {
    if (!labelledForInjection) return { kind: 'not-requested' };
    return malformed([`the pod has the label ${INJECT_LABEL}: "true" but not the annotation ${ANNOTATION.inject}: "true"; add the annotations ${ANNOTATION.inject}, ${ANNOTATION.keys} and ${ANNOTATION.pool} (or remove the label)`]);
  }

  const problems: string[] = [];
  if (inject !== 'true') problems.push(`${ANNOTATION.inject} is ${JSON.stringify(inject)}; it must be "true" or "false"`);
  for (const name of Object.keys(annotations)) {
    if (name.startsWith('keylease.io/') && !KNOWN_ANNOTATIONS.has(name)) {
      problems.push(`unknown annotation ${name}; keylease reads ${[...KNOWN_ANNOTATIONS].filter((a) => a !== ANNOTATION.injected).join(', ')}`);
    }
  }
  const mode = readMode(annotations[ANNOTATION.mode], problems);
  const keyCount = readKeyCount(annotations[ANNOTATION.keys], maxKeys, problems);
  const pool = readPool(annotations[ANNOTATION.pool], problems);
  const keymanagerUrl = readKeymanagerUrl(annotations[ANNOTATION.keymanagerUrl], mode, problems);
  const keymanagerCaSecret = readKeymanagerCaSecret(annotations[ANNOTATION.keymanagerCaSecret], annotations[ANNOTATION.keymanagerUrl], problems);
  const layout = readLayout(annotations[ANNOTATION.layout], mode, problems);
  const validatorIndex = readValidatorIndex(pod, annotations[ANNOTATION.container], problems);
  if (problems.length > 0 || mode === null) return malformed(problems);
  return { kind: 'requested', request: { mode, keyCount: keyCount!, pool: pool!, layout, keymanagerUrl, keymanagerCaSecret, validatorIndex: validatorIndex! } };
}

const malformed = (problems: string[]): AnnotationReading => ({ kind: 'malformed', problems });

function readKeyCount(text: string | undefined, maxKeys: number, problems: string[]): number | null {
  if (text === undefined) {
    problems.push(`${ANNOTATION.keys} is missing: say how many validator keys the pod runs, e.g. "4"`);
    return null;
  }
  // Digits only: "-3", "+3", "3.0", "0x3" and " 3" are all refused rather than guessed at.
  const count = /^[0-9]{1,7}$/.test(text) ? Number(text) : NaN;
  if (!(count >= 1 && count <= maxKeys)) {
    problems.push(`${ANNOTATION.keys} is ${JSON.stringify(text.slice(0, 40))}; it must be a whole number from 1 to ${maxKeys}`);
    return null;
  }
  return count;
}

function readPool(text: string | undefined, problems: string[]): string | null {
  if (text === undefined) {
    problems.push(`${ANNOTATION.pool} is missing: name the key pool to claim from, e.g. "mainnet"`);
    return null;
  }
  const problem = poolNameProblem(text);
  if (problem) {
    problems.push(`${ANNOTATION.pool}: ${problem}`);
    return null;
  }
  return text;
}

function readMode(text: string | undefined, problems: string[]): InjectionMode | null {
  if (text === undefined) return DEFAULT_MODE;
  if ((INJECTION_MODES as readonly string[]).includes(text)) return text as InjectionMode;
  problems.push(`${ANNOTATION.mode} is ${JSON.stringify(text.slice(0, 40))}; use signer (the default: the agent signs for the client, keys never leave it), files or keymanager`);
  return null;
}

function readLayout(text: string | undefined, mode: InjectionMode | null, problems: string[]): LayoutName | null {
  if (text === undefined) {
    if (mode === 'files') problems.push(`${ANNOTATION.layout} is missing: ${ANNOTATION.mode} files needs the validator client's key layout (${LAYOUT_NAMES.join(', ')})`);
    return null;
  }
  if (!(LAYOUT_NAMES as readonly string[]).includes(text)) {
    problems.push(`${ANNOTATION.layout} is ${JSON.stringify(text.slice(0, 40))}; use one of ${LAYOUT_NAMES.join(', ')}`);
    return null;
  }
  if (mode === 'signer' && !SIGNER_LAYOUTS.includes(text as LayoutName)) {
    problems.push(
      `${ANNOTATION.layout} ${text} writes keystores, and in ${ANNOTATION.mode} signer (the default) keys never leave the agent: ` +
        `drop ${ANNOTATION.layout} and point the client at $(KEYLEASE_SIGNER_URL) (k8s/examples), or set ${ANNOTATION.mode}: files to keep keystore files`,
    );
    return null;
  }
  return text as LayoutName;
}

function readKeymanagerUrl(text: string | undefined, mode: InjectionMode | null, problems: string[]): string | null {
  if (text === undefined) {
    if (mode === 'keymanager') problems.push(`${ANNOTATION.keymanagerUrl} is missing: ${ANNOTATION.mode} keymanager needs the validator client's Keymanager API in the pod, e.g. http://127.0.0.1:5062`);
    return null;
  }
  if (mode === 'files') {
    problems.push(`${ANNOTATION.keymanagerUrl} is for ${ANNOTATION.mode} keymanager or signer; ${ANNOTATION.mode} files only writes key files: remove one of the two`);
    return null;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    problems.push(`${ANNOTATION.keymanagerUrl} ${JSON.stringify(text.slice(0, 100))} is not a URL; give the validator client's Keymanager API in the pod, e.g. http://127.0.0.1:5062`);
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.push(`${ANNOTATION.keymanagerUrl} must be http:// or https://, not ${url.protocol}`);
    return null;
  }
  return text;
}

function readKeymanagerCaSecret(text: string | undefined, keymanagerUrl: string | undefined, problems: string[]): string | null {
  if (text === undefined) return null;
  if (!keymanagerUrl?.startsWith('https://')) {
    problems.push(`${ANNOTATION.keymanagerCaSecret} is for an https:// ${ANNOTATION.keymanagerUrl}; ${keymanagerUrl === undefined ? 'there is none' : 'this one is plain http'}`);
    return null;
  }
  if (podNameProblem(text) !== null) {
    problems.push(`${ANNOTATION.keymanagerCaSecret} ${JSON.stringify(text.slice(0, 100))} is not a Secret name (lowercase letters, digits, '-' and '.')`);
    return null;
  }
  return text;
}

function readValidatorIndex(pod: PodJson, name: string | undefined, problems: string[]): number | null {
  const containers = pod.spec?.containers ?? [];
  if (containers.length === 0) {
    problems.push('the pod has no containers to serve keys to');
    return null;
  }
  if (name === undefined) return 0;
  const index = containers.findIndex((c) => c.name === name);
  if (index === -1) {
    problems.push(`${ANNOTATION.container} names ${JSON.stringify(name.slice(0, 63))}, but the pod's containers are ${containers.map((c) => c.name).join(', ')}`);
    return null;
  }
  return index;
}
