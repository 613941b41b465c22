/**
 * Makes an error without capturing a stack. For outcomes a caller expects and acts on (a timeout, a
 * replica gone, a refusal), thousands a second when a fleet fails over: nobody reads their stacks, and
 * capturing (or, under source maps, formatting) one for each was a tenth of an agent's time there.
 */
export function withoutStack<T extends Error>(make: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
