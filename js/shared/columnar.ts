// Columnar tables shipped from the kernel as binary buffers, plus the diffs that update them.
// Wire format (mirrored by agentfm_nb/widgets/_columnar.py):
//   snapshot: {n, seq, cols: {name: {dtype, data}}, strings: {name: string[]}}
//   diff:     {kind: "diff", seq, n, cols: {name: {dtype, idx, val}}, strings: {name: {idx, val}}}
// `data`, `idx` and `val` are either a buffer (DataView/ArrayBuffer, in saved widget state) or an
// integer index into the message's buffers. `idx` is always u4 row indices; diffs carry only
// the changed cells of the changed columns, so a quiet tick costs a few bytes.

export type DType = "u1" | "u2" | "u4" | "i4" | "f4" | "f8";
export type Typed = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float32Array | Float64Array;
export type BufLike = ArrayBuffer | ArrayBufferView;

const CTORS = {
  u1: Uint8Array,
  u2: Uint16Array,
  u4: Uint32Array,
  i4: Int32Array,
  f4: Float32Array,
  f8: Float64Array,
} as const;

export interface ColumnData {
  dtype: DType;
  data: BufLike | number;
}
export interface Snapshot {
  kind?: "snapshot";
  n: number;
  seq: number;
  cols: Record<string, ColumnData>;
  strings: Record<string, string[]>;
}
export interface ColumnDiff {
  dtype: DType;
  idx: BufLike | number;
  val: BufLike | number;
}
export interface Diff {
  kind: "diff";
  n: number;
  seq: number;
  cols: Record<string, ColumnDiff>;
  strings: Record<string, { idx: number[]; val: string[] }>;
}

function bytesOf(buf: BufLike): Uint8Array {
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function resolve(ref: BufLike | number, buffers: readonly BufLike[]): BufLike {
  if (typeof ref === "number") {
    const b = buffers[ref];
    if (b === undefined) throw new Error(`columnar: missing buffer ${ref}`);
    return b;
  }
  return ref;
}

/** A typed array view of `buf` (copied, so unaligned offsets are fine). */
export function toTyped(buf: BufLike, dtype: DType): Typed {
  const Ctor = CTORS[dtype];
  if (!Ctor) throw new Error(`columnar: unknown dtype ${dtype}`);
  const bytes = bytesOf(buf);
  if (bytes.byteLength % Ctor.BYTES_PER_ELEMENT !== 0) {
    throw new Error(`columnar: ${bytes.byteLength} bytes is not a whole number of ${dtype}`);
  }
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Ctor(copy.buffer);
}

function grow(arr: Typed | undefined, dtype: DType, n: number): Typed {
  const Ctor = CTORS[dtype];
  if (arr && arr.length === n && arr instanceof Ctor) return arr;
  const out = new Ctor(n);
  if (arr) out.set(arr.length > n ? arr.subarray(0, n) : (arr as never));
  return out;
}

export class ColumnTable {
  n = 0;
  seq = -1;
  cols: Record<string, Typed> = {};
  strings: Record<string, string[]> = {};

  applySnapshot(snap: Snapshot, buffers: readonly BufLike[] = []): void {
    const cols: Record<string, Typed> = {};
    for (const [name, c] of Object.entries(snap.cols)) {
      const t = toTyped(resolve(c.data, buffers), c.dtype);
      if (t.length !== snap.n) throw new Error(`columnar: column ${name} has ${t.length} rows, not ${snap.n}`);
      cols[name] = t;
    }
    const strings: Record<string, string[]> = {};
    for (const [name, vals] of Object.entries(snap.strings ?? {})) strings[name] = vals.slice(0, snap.n);
    this.n = snap.n;
    this.seq = snap.seq;
    this.cols = cols;
    this.strings = strings;
  }

  /** Apply a diff; returns false (and changes nothing) when a diff was missed: resync then. */
  applyDiff(diff: Diff, buffers: readonly BufLike[] = []): boolean {
    if (diff.seq <= this.seq) return true; // already contained in a newer snapshot
    if (diff.seq !== this.seq + 1) return false;
    const n = diff.n;
    for (const [name, c] of Object.entries(diff.cols)) {
      const col = grow(this.cols[name], c.dtype, n);
      const idx = toTyped(resolve(c.idx, buffers), "u4");
      const val = toTyped(resolve(c.val, buffers), c.dtype);
      if (idx.length !== val.length) throw new Error(`columnar: diff of ${name} has ${idx.length} indices, ${val.length} values`);
      for (let i = 0; i < idx.length; i++) {
        const r = idx[i] as number;
        if (r < n) col[r] = val[i] as number;
      }
      this.cols[name] = col;
    }
    for (const [name, col] of Object.entries(this.cols)) {
      if (col.length !== n) this.cols[name] = grow(col, Object.keys(CTORS).find((k) => col instanceof CTORS[k as DType]) as DType, n);
    }
    for (const [name, s] of Object.entries(diff.strings ?? {})) {
      const arr = this.strings[name] ?? [];
      s.idx.forEach((r, i) => {
        arr[r] = s.val[i] ?? "";
      });
      this.strings[name] = arr;
    }
    for (const [name, arr] of Object.entries(this.strings)) {
      if (arr.length > n) arr.length = n;
      for (let i = 0; i < n; i++) if (arr[i] === undefined) arr[i] = "";
      this.strings[name] = arr;
    }
    this.n = n;
    this.seq = diff.seq;
    return true;
  }

  num(name: string, row: number): number {
    const c = this.cols[name];
    return c ? (c[row] as number) : Number.NaN;
  }

  str(name: string, row: number): string {
    return this.strings[name]?.[row] ?? "";
  }
}

/** Row order after filtering and sorting, recomputed only when data or view settings change. */
export function orderRows(
  table: ColumnTable,
  opts: { sortKey: string | null; descending: boolean; keep?: (row: number) => boolean },
): Uint32Array {
  const rows: number[] = [];
  for (let r = 0; r < table.n; r++) if (!opts.keep || opts.keep(r)) rows.push(r);
  const key = opts.sortKey;
  if (key) {
    const sign = opts.descending ? -1 : 1;
    if (key in table.cols) {
      const col = table.cols[key] as Typed;
      rows.sort((a, b) => {
        const x = col[a] as number;
        const y = col[b] as number;
        return (x < y ? -1 : x > y ? 1 : a - b) * sign;
      });
    } else {
      const col = table.strings[key] ?? [];
      rows.sort((a, b) => ((col[a] ?? "").localeCompare(col[b] ?? "") || a - b) * sign);
    }
  }
  return Uint32Array.from(rows);
}
