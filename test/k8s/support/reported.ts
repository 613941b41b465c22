/**
 * uvu 0.5 loses an error thrown in a `before` hook (its runner returns from a `finally`): the file just
 * shows 0 passed. Wrapping the hook prints the reason first (a missing binary, a cluster that did not start).
 */
export function reported(hook: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await hook();
    } catch (error) {
      process.stderr.write(`setup failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      throw error;
    }
  };
}
