// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { escapeHtml, renderMarkdown } from "../shared/markdown";

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
