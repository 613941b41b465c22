/**
 * Snapshot data as Raft handles it: something it can measure and cut chunks from, opaque otherwise. A
 * string is one; a large state machine's snapshot is a PartedText instead, so that no single string of
 * the whole state is ever built (at 100,000 keys that string, and the copies escaping it made, cost
 * hundreds of megabytes and seconds of a blocked event loop).
 */
export interface SnapshotData {
  readonly length: number;
  slice(start: number, end: number): string;
}

/** Text kept as the parts it was made in; `slice` works across part boundaries. */
export class PartedText implements SnapshotData {
  readonly length: number;
  /** starts[k] is where parts[k] begins in the whole text. */
  private readonly starts: number[];

  constructor(readonly parts: readonly string[]) {
    this.starts = [];
    let at = 0;
    for (const part of parts) {
      this.starts.push(at);
      at += part.length;
    }
    this.length = at;
  }

  slice(start: number, end: number): string {
    const from = Math.max(0, Math.min(start, this.length));
    const to = Math.max(from, Math.min(end, this.length));
    if (from === to) return '';
    let k = this.partAt(from);
    const pieces: string[] = [];
    for (let at = from; at < to; k++) {
      const part = this.parts[k]!;
      const offset = at - this.starts[k]!;
      const piece = part.slice(offset, Math.min(part.length, offset + (to - at)));
      pieces.push(piece);
      at += piece.length;
    }
    return pieces.length === 1 ? pieces[0]! : pieces.join('');
  }

  /** The last part starting at or before `offset` (binary search over the starts). */
  private partAt(offset: number): number {
    let low = 0;
    let high = this.parts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.starts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    // Skip empty parts that start at the same offset.
    while (low < this.parts.length - 1 && this.parts[low]!.length === 0) low++;
    return low;
  }
}

/** The data's text in parts, without joining it: a string is one part. */
export function partsOf(data: SnapshotData): readonly string[] {
  if (typeof data === 'string') return [data];
  if (data instanceof PartedText) return data.parts;
  return [data.slice(0, data.length)];
}
