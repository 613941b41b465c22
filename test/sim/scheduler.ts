/**
 * Virtual time for the simulation: callbacks run in (time, insertion order), so a run depends only on
 * its seed. Nothing here reads a real clock.
 */
interface Scheduled {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
}

export class Scheduler {
  private heap: Scheduled[] = [];
  private seq = 0;
  private currentTime = 0;

  get now(): number {
    return this.currentTime;
  }

  /** Runs `run` after `delay` units of virtual time (0: after everything already due now). */
  after(delay: number, run: () => void): void {
    this.push({ at: this.currentTime + delay, seq: this.seq++, run });
  }

  /** Runs the next due callback; false if nothing is scheduled at or before `until`. */
  runNext(until: number): boolean {
    const next = this.heap[0];
    if (next === undefined || next.at > until) return false;
    this.pop();
    this.currentTime = next.at;
    next.run();
    return true;
  }

  /** Moves the clock to `time` when nothing is due before it. */
  advanceTo(time: number): void {
    this.currentTime = Math.max(this.currentTime, time);
  }

  private before(a: Scheduled, b: Scheduled): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(item: Scheduled): void {
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && this.before(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && this.before(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === i) return;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  }
}
