/**
 * A linearizability checker for client histories: Wing & Gong's search (1993) with Lowe's memoisation
 * ("Testing for linearizability", 2017), the algorithm porcupine implements and etcd's robustness
 * tests use.
 *
 * A history is linearizable when its operations can be put in one order that the sequential model
 * accepts step by step and that respects real time: an op that returned before another was called
 * comes first. The search walks the list of call and return events; at a call it tries to linearize
 * that op next, at a return it has failed (that op had to come first) and backtracks.
 */

export interface Operation<I, O> {
  clientId: string;
  input: I;
  /** When the client sent the request. */
  call: number;
  /** When the answer arrived; null if none did (timed out, crashed): the op may or may not have taken effect. */
  return: number | null;
  /** The answer; ignored when `return` is null. */
  output: O | null;
}

export interface Model<S, I, O> {
  init(): S;
  /**
   * Applies one op to `state` (without changing it). `output` null: the answer was lost, so accept
   * whatever outcome the model allows. `ok` false: this op with this answer cannot happen in `state`.
   */
  step(state: S, input: I, output: O | null): { ok: boolean; state: S };
  /** Splits the history into parts that are linearizable independently, checked one by one (default: one part). */
  partition?(history: readonly Operation<I, O>[]): Operation<I, O>[][];
  /** Equal hashes must mean equal states: the search skips a (linearized ops, state) pair it already explored. */
  hash(state: S): string;
  /**
   * True when this answered op, legal in `state`, changes nothing there and, in every state reachable
   * from `state`, is either not allowed or changes nothing (a refusal, a read, a repeat of something
   * that stays done). Such an op is linearized at once and never tried later: it must come somewhere
   * ahead, and wherever it can come it changes nothing, so moving it to now leaves every later state
   * as it was and only relaxes real-time constraints. The search then no longer tries every order of
   * many concurrent ops that change nothing — for an illegal history, every subset of them.
   */
  settled?(state: S, input: I, output: O): boolean;
  /**
   * Unanswered ops whose inputs have equal keys are interchangeable: `step(s, a, null)` and
   * `step(s, b, null)` agree in every state `s` (a retry, or requests that differ only in what the
   * lost answer would have said). Default: the input's JSON.
   */
  unansweredKey?(input: I): string;
  describe?(op: Operation<I, O>): string;
}

export interface CheckResult {
  result: 'ok' | 'illegal' | 'unknown';
  /** For 'illegal': the longest linearizable prefix found and the op that could not follow it. */
  info?: string;
  /** Search steps taken over all partitions: what the verdict cost, independent of the machine's load. */
  steps: number;
}

/**
 * How long the search may go on before the verdict is 'unknown'. A step budget gives the same verdict
 * on any machine under any load; a time budget bounds the wait when that matters more.
 */
export interface CheckBudget {
  timeoutMs?: number;
  /** Search steps over all partitions (a step considers one call or return event). */
  maxSteps?: number;
}

/** Reading the clock on every step would cost more than the step. */
const DEADLINE_CHECK_EVERY = 1024;
/** How much of the longest prefix an 'illegal' report lists: the ops just before the failure matter most. */
const PREFIX_OPS_SHOWN = 20;

export function checkLinearizable<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[], budget: CheckBudget): CheckResult {
  const { timeoutMs, maxSteps } = budget;
  if (timeoutMs === undefined && maxSteps === undefined) throw new Error('checkLinearizable needs a budget: give timeoutMs, maxSteps or both');
  const limits: SearchLimits = { deadline: timeoutMs === undefined ? Infinity : performance.now() + timeoutMs, stepsLeft: maxSteps ?? Infinity };
  const partitions = model.partition?.(history) ?? [[...history]];
  let steps = 0;
  for (const [index, ops] of partitions.entries()) {
    const outcome = searchPartition(model, ops, limits);
    steps += outcome.steps;
    if (outcome.kind === 'out-of-budget') {
      const spent = limits.stepsLeft <= 0 ? `${maxSteps} steps` : `${timeoutMs} ms`;
      return { result: 'unknown', info: `not decided within ${spent} (partition ${index + 1} of ${partitions.length}, ${ops.length} ops)`, steps };
    }
    if (outcome.kind === 'illegal') return { result: 'illegal', info: explain(model, outcome), steps };
  }
  return { result: 'ok', steps };
}

/** What is left of the budget, shared by the partitions in turn. */
interface SearchLimits {
  readonly deadline: number;
  stepsLeft: number;
}

type PartitionOutcome<S, I, O> = { steps: number } & (
  | { kind: 'linearizable' }
  | { kind: 'out-of-budget' }
  | { kind: 'illegal'; prefix: Operation<I, O>[]; blocked: Operation<I, O>; stateAfterPrefix: S }
);

/** The list's start, and what every entry links back to. */
interface Link<I, O> {
  next: Entry<I, O> | null;
}

/** A call or return event, doubly linked so a linearized op can be lifted out of the list and put back in O(1). */
interface Entry<I, O> extends Link<I, O> {
  prev: Link<I, O>;
  readonly op: Operation<I, O>;
  /** The op's index in its partition: its bit in the linearized set. */
  readonly id: number;
  readonly isCall: boolean;
  /** On a call: its op's return event, or null if the op never returned (it has none). */
  readonly returnEntry: Entry<I, O> | null;
  /**
   * For an op that never returned: the id of the last earlier-called such op with the same
   * `unansweredKey` (a retry of the same request, say), or null. Two such ops are interchangeable
   * (same effect, no answer, and the earlier one can go wherever the later one can), so the later is
   * placed only after the earlier: otherwise every subset of them would be searched as another choice.
   */
  twinBefore: number | null;
}

/** A choice on the search path: `call` was linearized from `stateBefore`. Linked downwards, so keeping a path is O(1). */
interface Frame<S, I, O> {
  readonly call: Entry<I, O>;
  readonly stateBefore: S;
  readonly below: Frame<S, I, O> | null;
  readonly depth: number;
  /** Placed because it was settled (see Model.settled): never a choice to revisit. */
  readonly forced: boolean;
}

function searchPartition<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[], limits: SearchLimits): PartitionOutcome<S, I, O> {
  const { head, answered } = eventList(ops, model.unansweredKey?.bind(model) ?? ((input: I) => JSON.stringify(input)));
  // An op that never returned sits at +∞: it may be linearized anywhere after its call or never, so the
  // search is done once every answered op is linearized; the rest are left out.
  let unplaced = answered;
  let state = model.init();
  let path: Frame<S, I, O> | null = null;
  const linearized = new Bitset(ops.length);
  const explored = new Set<string>();
  let deepestFailure: { depth: number; path: Frame<S, I, O> | null; blocked: Operation<I, O>; state: S } | null = null;
  let entry = head.next;
  let steps = 0;
  const outcome = (result: PartitionOutcome<S, I, O>): PartitionOutcome<S, I, O> => {
    limits.stepsLeft -= steps;
    return result;
  };
  /**
   * No choice so far lets `blocked` be linearized in time: undoes the last choice (and the settled
   * placements above it, which were no choice) and goes on past it, or says the partition is illegal.
   */
  const backtrack = (blocked: Operation<I, O>): PartitionOutcome<S, I, O> | null => {
    const depth = path?.depth ?? 0;
    if (deepestFailure === null || depth > deepestFailure.depth) deepestFailure = { depth, path, blocked, state };
    let undone: Frame<S, I, O> | null = null;
    while (path !== null && (undone === null || undone.forced)) {
      undone = path;
      state = undone.stateBefore;
      linearized.clear(undone.call.id);
      unlift(undone.call);
      if (undone.call.returnEntry !== null) unplaced++;
      path = undone.below;
    }
    if (undone === null || undone.forced) {
      return outcome({ kind: 'illegal', steps, prefix: opsOf(deepestFailure.path), blocked: deepestFailure.blocked, stateAfterPrefix: deepestFailure.state });
    }
    entry = undone.call.next;
    return null;
  };
  while (unplaced > 0) {
    if (++steps > limits.stepsLeft || (steps % DEADLINE_CHECK_EVERY === 0 && performance.now() > limits.deadline)) return outcome({ kind: 'out-of-budget', steps });
    // While an answered op is unplaced its return event lies ahead, so the scan never runs off the list.
    const current = entry!;
    if (current.isCall && current.twinBefore !== null && !linearized.has(current.twinBefore)) {
      entry = current.next;
    } else if (current.isCall) {
      const { op } = current;
      const step = model.step(state, op.input, op.return === null ? null : op.output);
      const afterHash = step.ok ? model.hash(step.state) : null;
      // A lost op that would change nothing is left out instead: placing it gains nothing, and every
      // subset of such ops placed would be another (linearized set, state) pair to explore.
      const worthPlacing = afterHash !== null && !(op.return === null && afterHash === model.hash(state));
      if (worthPlacing) {
        const forced = op.return !== null && op.output !== null && model.settled?.(state, op.input, op.output) === true;
        linearized.set(current.id);
        const key = `${linearized.key()}|${afterHash}`;
        if (!explored.has(key)) {
          explored.add(key);
          const frame: Frame<S, I, O> = { call: current, stateBefore: state, below: path, depth: (path?.depth ?? 0) + 1, forced }; // typed, or TS narrows `path` to null
          path = frame;
          state = step.state;
          lift(current);
          if (current.returnEntry !== null) unplaced--;
          entry = head.next;
          continue;
        }
        // Same ops linearized, same state: everything from there was already tried and failed. After a
        // settled op that means nothing from here can succeed either (see Model.settled).
        linearized.clear(current.id);
        if (forced) {
          const illegal = backtrack(op);
          if (illegal !== null) return illegal;
          continue;
        }
      }
      entry = current.next;
    } else {
      // This op had to be linearized before anything later, and no choice so far lets it.
      const illegal = backtrack(current.op);
      if (illegal !== null) return illegal;
    }
  }
  return outcome({ kind: 'linearizable', steps });
}

/** The ops' call and return events in time order, as a linked list, and how many ops were answered. */
function eventList<I, O>(ops: readonly Operation<I, O>[], unansweredKey: (input: I) => string): { head: Link<I, O>; answered: number } {
  const head: Link<I, O> = { next: null };
  const events: { time: number; entry: Entry<I, O> }[] = [];
  ops.forEach((op, id) => {
    const newEntry = (isCall: boolean, returnEntry: Entry<I, O> | null): Entry<I, O> => ({ op, id, isCall, returnEntry, twinBefore: null, prev: head, next: null });
    let returnEntry: Entry<I, O> | null = null;
    if (op.return !== null) {
      if (op.return < op.call) throw new Error(`operation ${id} of ${op.clientId} returns (${op.return}) before its call (${op.call})`);
      returnEntry = newEntry(false, null);
      events.push({ time: op.return, entry: returnEntry });
    }
    events.push({ time: op.call, entry: newEntry(true, returnEntry) });
  });
  // At equal times calls go first: ops that merely touch count as concurrent, the lenient reading of coarse clocks.
  events.sort((a, b) => a.time - b.time || Number(b.entry.isCall) - Number(a.entry.isCall));
  let last: Link<I, O> = head;
  const lastLostWithKey = new Map<string, number>();
  for (const entry of answeredCallsFirst(events.map((event) => event.entry))) {
    entry.prev = last;
    last.next = entry;
    last = entry;
    if (entry.isCall && entry.op.return === null) {
      const key = unansweredKey(entry.op.input);
      entry.twinBefore = lastLostWithKey.get(key) ?? null;
      lastLostWithKey.set(key, entry.id);
    }
  }
  return { head, answered: events.length - ops.length };
}

/**
 * The calls between two returns become candidates together (once every earlier return's op is
 * linearized), so their order is only the order the search tries them in. Answered ops go first: a
 * lost op is needed only where some answer shows its effect, and tried first it sends a correct
 * history's search down every way of placing the lost ops before it finds the order that works.
 * The lost calls keep their time order, which `twinBefore` relies on.
 */
function answeredCallsFirst<I, O>(entries: readonly Entry<I, O>[]): Entry<I, O>[] {
  const ordered: Entry<I, O>[] = [];
  let calls: Entry<I, O>[] = [];
  const flushCalls = () => {
    ordered.push(...calls.filter((call) => call.returnEntry !== null), ...calls.filter((call) => call.returnEntry === null));
    calls = [];
  };
  for (const entry of entries) {
    if (entry.isCall) {
      calls.push(entry);
    } else {
      flushCalls();
      ordered.push(entry);
    }
  }
  flushCalls();
  return ordered;
}

function lift<I, O>(call: Entry<I, O>): void {
  unlink(call);
  if (call.returnEntry !== null) unlink(call.returnEntry);
}

/** Exactly undoes `lift`, relinking in reverse order (the "dancing links" trick). */
function unlift<I, O>(call: Entry<I, O>): void {
  if (call.returnEntry !== null) relink(call.returnEntry);
  relink(call);
}

function unlink<I, O>(entry: Entry<I, O>): void {
  entry.prev.next = entry.next;
  if (entry.next !== null) entry.next.prev = entry.prev;
}

function relink<I, O>(entry: Entry<I, O>): void {
  entry.prev.next = entry;
  if (entry.next !== null) entry.next.prev = entry;
}

/** The set of linearized ops, one bit per op of the partition. */
class Bitset {
  private readonly words: Uint32Array;

  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  set(bit: number): void {
    this.words[bit >>> 5]! |= 1 << (bit & 31);
  }

  has(bit: number): boolean {
    return (this.words[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  clear(bit: number): void {
    this.words[bit >>> 5]! &= ~(1 << (bit & 31));
  }

  key(): string {
    return this.words.join(',');
  }
}

function opsOf<S, I, O>(path: Frame<S, I, O> | null): Operation<I, O>[] {
  const ops: Operation<I, O>[] = [];
  for (let frame = path; frame !== null; frame = frame.below) ops.push(frame.call.op);
  return ops.reverse();
}

function explain<S, I, O>(model: Model<S, I, O>, failure: Extract<PartitionOutcome<S, I, O>, { kind: 'illegal' }>): string {
  const describe = model.describe?.bind(model) ?? describeOperation;
  const { prefix, blocked } = failure;
  const shown = prefix.slice(-PREFIX_OPS_SHOWN);
  const lines = [
    `cannot linearize ${describe(blocked)}`,
    `after the longest linearizable prefix found (${prefix.length} ops${shown.length < prefix.length ? `, the last ${shown.length} shown` : ''}):`,
    ...shown.map((op, i) => `  ${prefix.length - shown.length + i + 1}. ${describe(op)}`),
    `model state after it: ${model.hash(failure.stateAfterPrefix)}`,
  ];
  return lines.join('\n');
}

function describeOperation<I, O>(op: Operation<I, O>): string {
  const answer = op.return === null ? 'no answer' : JSON.stringify(op.output);
  return `${op.clientId}: ${JSON.stringify(op.input)} → ${answer} [${op.call}, ${op.return ?? '∞'}]`;
}
