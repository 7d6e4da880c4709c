// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { escapeHtml, renderInto, renderMarkdown, splitStable } from "../shared/markdown";

describe("renderMarkdown", () => {
  it("renders code blocks and lists", () => {
    const html = renderMarkdown("# Title\n\n- one\n- two\n\n```py\nprint(1)\n```\n");
    expect(html).toContain("<h1");
    expect(html).toContain("<li>one</li>");
    expect(html).toContain("<code");
  });

  it("strips scripts, handlers and javascript: links from agent output", () => {
    const evil = [
      "<script>alert(1)</script>",
      '<img src=x onerror="alert(2)">',
      "[click](javascript:alert(3))",
      '<a href="javascript:alert(4)">x</a>',
      '<iframe src="https://example.com"></iframe>',
      '<div style="position:fixed">x</div>',
    ].join("\n\n");
    const html = renderMarkdown(evil);
    expect(html).not.toMatch(/<script|onerror|javascript:|<iframe|style=/i);
  });

  it("opens links in a new tab without opener", () => {
    expect(renderMarkdown("[a](https://example.com)")).toContain('rel="noopener noreferrer"');
  });

  it("escapes html", () => {
    expect(escapeHtml(`<a href="x">&'`)).toBe("&#60;a href=&#34;x&#34;&#62;&#38;&#39;");
  });
});

describe("splitStable / renderInto", () => {
  it("cuts at line ends outside fences, stably as the text grows", () => {
    const text = Array.from({ length: 10 }, (_, i) => `line ${i}\n`).join("");
    expect(splitStable(text, 3)).toEqual(["line 0\nline 1\nline 2\n", "line 3\nline 4\nline 5\n", "line 6\nline 7\nline 8\n", "line 9\n"]);
    expect(splitStable(text, 3).join("")).toBe(text);
    const grown = splitStable(`${text}more`, 3);
    expect(grown.slice(0, 3)).toEqual(splitStable(text, 3).slice(0, 3));
    const fenced = "```\na\nb\nc\nd\n```\ne\n";
    expect(splitStable(fenced, 2)[0]).toBe("```\na\nb\nc\nd\n```\n");
  });

  it("keeps completed blocks and re-renders only the tail", () => {
    const el = document.createElement("div");
    const text = Array.from({ length: 200 }, (_, i) => `line ${i}\n`).join("");
    renderInto(el, text);
    const first = el.children[0];
    renderInto(el, `${text}**tail**`);
    expect(el.children[0]).toBe(first);
    expect(el.innerHTML).toContain("<strong>tail</strong>");
    expect(el.textContent).toContain("line 199");
  });
});
