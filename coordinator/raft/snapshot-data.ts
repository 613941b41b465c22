/**
 * Snapshot data as Raft handles it: something it can measure and cut chunks from, opaque otherwise. A
 * string is one; a large state machine's snapshot is parted text instead, so that no single string of
 * the whole state is ever built (at 100,000 keys that string, and the copies escaping it made, cost
 * hundreds of megabytes and seconds of a blocked event loop), and it need not even stay in memory.
 */
export interface SnapshotData {
  readonly length: number;
  slice(start: number, end: number): string;
}

/** Text in parts of known lengths, each fetched when needed; `slice` works across part boundaries. */
export abstract class PartedData implements SnapshotData {
  readonly length: number;
  /** starts[k] is where part k begins in the whole text. */
  private readonly starts: number[] = [];

  constructor(readonly partLengths: readonly number[]) {
    let at = 0;
    for (const length of partLengths) {
      this.starts.push(at);
      at += length;
    }
    this.length = at;
  }

  get partCount(): number {
    return this.partLengths.length;
  }

  abstract part(k: number): string;

  slice(start: number, end: number): string {
    const from = Math.max(0, Math.min(start, this.length));
    const to = Math.max(from, Math.min(end, this.length));
    const pieces: string[] = [];
    for (let k = this.partAt(from), at = from; at < to; k++) {
      if (this.partLengths[k] === 0) continue;
      const offset = at - this.starts[k]!;
      const piece = this.part(k).slice(offset, Math.min(this.partLengths[k]!, offset + (to - at)));
      pieces.push(piece);
      at += piece.length;
    }
    return pieces.length === 1 ? pieces[0]! : pieces.join('');
  }

  /** The last part starting at or before `offset` (binary search over the starts). */
  private partAt(offset: number): number {
    let low = 0;
    let high = this.partLengths.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.starts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return low;
  }
}

/** Parted text held in memory. */
export class PartedText extends PartedData {
  constructor(readonly parts: readonly string[]) {
    super(parts.map((part) => part.length));
  }

  part(k: number): string {
    return this.parts[k]!;
  }
}

/** The data's text part by part, fetched one at a time, without joining it: a string is one part. */
export function* partsOf(data: SnapshotData): Generator<string> {
  if (typeof data === 'string') yield data;
  else if (data instanceof PartedData) for (let k = 0; k < data.partCount; k++) yield data.part(k);
  else yield data.slice(0, data.length);
}
