import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { renderMarkdown } from "./markdown";

const html = (text: string) => renderToStaticMarkup(<>{renderMarkdown(text)}</>);

describe("renderMarkdown", () => {
  it("keeps plain text as text, HTML included", () => {
    expect(html("hello <script>alert(1)</script> & bye")).toBe(
      "<span>hello &lt;script&gt;alert(1)&lt;/script&gt; &amp; bye</span>",
    );
  });

  it("renders emphasis, strong and inline code", () => {
    expect(html("*a* _b_ **c** `d *e*`")).toBe(
      "<span><em>a</em> <em>b</em> <strong>c</strong> <code>d *e*</code></span>",
    );
  });

  it("nests emphasis inside strong", () => {
    expect(html("**x *y* z**")).toBe("<span><strong>x <em>y</em> z</strong></span>");
  });

  it("leaves snake_case, lone stars and spaced stars alone", () => {
    expect(html("a snake_case_name, 2 * 3 * 4 and ** x **")).toBe(
      "<span>a snake_case_name, 2 * 3 * 4 and ** x **</span>",
    );
  });

  it("renders fenced code blocks verbatim", () => {
    expect(html("before\n```js\nlet a = '<b>*x*</b>';\n```\nafter")).toBe(
      '<span>before</span><pre class="code-block" data-lang="js"><code>let a = &#x27;&lt;b&gt;*x*&lt;/b&gt;&#x27;;</code></pre><span>after</span>',
    );
  });

  it("runs an unclosed fence to the end", () => {
    expect(html("```\ncode")).toBe('<pre class="code-block"><code>code</code></pre>');
  });

  it("links http and https URLs safely, without trailing punctuation", () => {
    expect(html("see https://example.com/a_(b)?q=1&r=2. or (http://x.org/y)")).toBe(
      '<span>see <a href="https://example.com/a_(b)?q=1&amp;r=2" target="_blank" rel="noopener noreferrer">https://example.com/a_(b)?q=1&amp;r=2</a>. or (<a href="http://x.org/y" target="_blank" rel="noopener noreferrer">http://x.org/y</a>)</span>',
    );
  });

  it("never links other schemes", () => {
    const out = html("javascript:alert(1) data:text/html,<b>x</b> vbscript:x ftp://x.org");
    expect(out).not.toContain("<a");
    expect(out).toContain("javascript:alert(1)");
  });

  it("does not link a URL glued to a word or without a host", () => {
    expect(html("xhttps://a.org https:// http://")).not.toContain("<a");
  });

  it("keeps code spans from being linked or emphasised", () => {
    expect(html("`https://a.org *b*`")).toBe("<span><code>https://a.org *b*</code></span>");
  });

  it("marks the mentioned members' @usernames, the reader's more strongly, as the server finds them", () => {
    const mentions = new Map([
      ["alice", true],
      ["dave.smith", false],
    ]);
    const out = renderToStaticMarkup(<>{renderMarkdown("@ALICE, see @dave.smith. Not bob@alice or @carol **@alice**", mentions)}</>);
    expect(out).toBe(
      '<span><span class="mention self" data-testid="mention">@ALICE</span>, see ' +
        '<span class="mention" data-testid="mention">@dave.smith</span>. Not bob@alice or @carol ' +
        '<strong><span class="mention self" data-testid="mention">@alice</span></strong></span>',
    );
  });

  it("marks nothing without mentions", () => {
    expect(html("hi @alice")).toBe("<span>hi @alice</span>");
  });
});
