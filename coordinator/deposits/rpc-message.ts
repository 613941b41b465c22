/** The node's own error text from an ethers error, without the request payload (and endpoint URL) ethers appends. */
export function rpcMessage(error: unknown): string {
  const inner = (error as { error?: { message?: unknown }; info?: { error?: { message?: unknown } } }) ?? {};
  const message = inner.error?.message ?? inner.info?.error?.message ?? (error instanceof Error ? (error as { shortMessage?: string }).shortMessage ?? error.message : String(error));
  return String(message);
}
