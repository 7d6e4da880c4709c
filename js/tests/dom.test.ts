// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { containKeys, h, setText, styleInto } from "../shared/dom";
import { formatSavedAt, liveness } from "../shared/snapshot";
import { fitColumns } from "../widgets/worker_table";

describe("dom helpers", () => {
  it("setText keeps the text node when the text is unchanged (selection survives)", () => {
    const el = h("span", { text: "http://127.0.0.1:8080" });
    const node = el.firstChild;
    setText(el, "http://127.0.0.1:8080");
    expect(el.firstChild).toBe(node);
    setText(el, "changed");
    expect(el.firstChild).toBe(node); // edited in place, not replaced
    expect(el.textContent).toBe("changed");
  });

  it("styles go inside the widget, never into document.head", () => {
    const el = h("div");
    styleInto(el, ".a{}", ".b{}");
    expect(el.querySelector("style")?.textContent).toBe(".a{}\n.b{}");
    expect(document.head.querySelectorAll("style").length).toBe(0);
  });

  it("keys typed in the widget do not reach the page", () => {
    const root = h("div");
    const box = h("textarea");
    root.append(box);
    document.body.append(root);
    let reached = 0;
    const count = () => {
      reached += 1;
    };
    document.addEventListener("keydown", count);
    const release = containKeys(root);
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", shiftKey: true, bubbles: true }));
    expect(reached).toBe(0);
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "s", ctrlKey: true, bubbles: true }));
    expect(reached).toBe(1); // saving the notebook still works from inside a widget
    reached = 0;
    release();
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(reached).toBe(1);
    document.removeEventListener("keydown", count);
  });
});

describe("worker table columns", () => {
  it("keeps every column at 960 px and drops by priority at 640 px", () => {
    expect(fitColumns(940).map((c) => c.key)).toHaveLength(11);
    const narrow = fitColumns(620).map((c) => c.key);
    expect(narrow).toEqual(expect.arrayContaining(["name", "status", "load", "engine"]));
    expect(narrow).not.toContain("author");
    expect(fitColumns(100).map((c) => c.key)).toEqual(["name", "status", "load"]);
  });
});

describe("snapshot mode", () => {
  it("a page whose kernel never answers becomes a snapshot and freezes its clock", async () => {
    const handlers: Record<string, ((...a: unknown[]) => void)[]> = {};
    const model = {
      get: (k: string) => (k === "_saved_at" ? 1_700_000_000 : undefined),
      send: () => {},
      on: (ev: string, f: (...a: unknown[]) => void) => {
        handlers[ev] = [...(handlers[ev] ?? []), f];
      },
      off: () => {},
    };
    const changes: boolean[] = [];
    const live = liveness(model, (s) => changes.push(s), { graceMs: 30, everyMs: 1000, lostMs: 5000 });
    expect(live.snapshot).toBe(false);
    await new Promise((r) => setTimeout(r, 80));
    expect(live.snapshot).toBe(true);
    expect(live.now()).toBe(1_700_000_000);
    expect(live.banner.hidden).toBe(false);
    expect(live.banner.textContent).toContain(`Snapshot of ${formatSavedAt(1_700_000_000)}`);
    for (const f of handlers["msg:custom"] ?? []) f({ kind: "pong" });
    expect(live.snapshot).toBe(false);
    expect(changes).toEqual([true, false]);
    live.dispose();
  });
});
