import { describe, expect, it } from "vitest";
import { ColumnTable, orderRows, toTyped } from "../shared/columnar";

const f4 = (xs: number[]) => new DataView(new Float32Array(xs).buffer);
const u4 = (xs: number[]) => new Uint32Array(xs).buffer;

describe("ColumnTable", () => {
  it("applies a snapshot then contiguous diffs, growing rows", () => {
    const t = new ColumnTable();
    t.applySnapshot({ n: 2, seq: 0, cols: { cpu: { dtype: "f4", data: f4([1, 2]) } }, strings: { name: ["a", "b"] } });
    expect(Array.from(t.cols.cpu as Float32Array)).toEqual([1, 2]);
    const ok = t.applyDiff(
      { kind: "diff", seq: 1, n: 3, cols: { cpu: { dtype: "f4", idx: 0, val: 1 } }, strings: { name: { idx: [2], val: ["c"] } } },
      [u4([1, 2]), f4([5, 7])],
    );
    expect(ok).toBe(true);
    expect(Array.from(t.cols.cpu as Float32Array)).toEqual([1, 5, 7]);
    expect(t.strings.name).toEqual(["a", "b", "c"]);
    expect(t.seq).toBe(1);
  });

  it("refuses a diff after a gap and ignores stale ones", () => {
    const t = new ColumnTable();
    t.applySnapshot({ n: 1, seq: 5, cols: { s: { dtype: "u1", data: new Uint8Array([3]) } }, strings: {} });
    const stale = t.applyDiff({ kind: "diff", seq: 4, n: 1, cols: { s: { dtype: "u1", idx: 0, val: 1 } }, strings: {} }, [u4([0]), new Uint8Array([9])]);
    expect(stale).toBe(true);
    expect(t.num("s", 0)).toBe(3);
    const gap = t.applyDiff({ kind: "diff", seq: 7, n: 1, cols: {}, strings: {} });
    expect(gap).toBe(false);
    expect(t.seq).toBe(5);
  });

  it("shrinks rows and copies unaligned buffers", () => {
    const raw = new Uint8Array(9);
    new DataView(raw.buffer).setFloat64(1, 2.5, true);
    expect(Array.from(toTyped(new DataView(raw.buffer, 1, 8), "f8"))).toEqual([2.5]);
    const t = new ColumnTable();
    t.applySnapshot({ n: 3, seq: 0, cols: { x: { dtype: "u2", data: new Uint16Array([1, 2, 3]) } }, strings: { k: ["a", "b", "c"] } });
    t.applyDiff({ kind: "diff", seq: 1, n: 2, cols: {}, strings: {} });
    expect(Array.from(t.cols.x as Uint16Array)).toEqual([1, 2]);
    expect(t.strings.k).toEqual(["a", "b"]);
  });

  it("rejects a column whose length disagrees with n", () => {
    const t = new ColumnTable();
    expect(() => t.applySnapshot({ n: 2, seq: 0, cols: { x: { dtype: "f4", data: f4([1]) } }, strings: {} })).toThrow(/1 rows/);
  });

  it("orders rows by numeric or string columns with a filter", () => {
    const t = new ColumnTable();
    t.applySnapshot({ n: 4, seq: 0, cols: { cpu: { dtype: "f4", data: f4([3, 1, 2, 0]) } }, strings: { name: ["d", "b", "a", "c"] } });
    expect(Array.from(orderRows(t, { sortKey: "cpu", descending: false }))).toEqual([3, 1, 2, 0]);
    expect(Array.from(orderRows(t, { sortKey: "name", descending: true }))).toEqual([0, 3, 1, 2]);
    expect(Array.from(orderRows(t, { sortKey: null, descending: false, keep: (r) => r % 2 === 0 }))).toEqual([0, 2]);
  });
});
