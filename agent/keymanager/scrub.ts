const MAX_QUOTED_CHARS = 300;

/**
 * Makes text that came from the validator client safe to put in an error: every occurrence of a secret we
 * sent (passwords, keystore JSON) is replaced, in case the client echoes its input, and the text is cut
 * short so a misbehaving client cannot flood the logs.
 */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let scrubbed = text;
  for (const secret of secrets) if (secret.length > 0) scrubbed = scrubbed.split(secret).join('[redacted]');
  return scrubbed.length > MAX_QUOTED_CHARS ? `${scrubbed.slice(0, MAX_QUOTED_CHARS)}...` : scrubbed;
}
