// A small, safe Markdown renderer for message bodies. It builds React elements and never HTML: every piece
// of the text ends up as a text node (which React escapes), so a `<script>` in a message stays text.
//
// Supported: *emphasis* and _emphasis_, **strong**, `inline code`, fenced ``` code blocks ```, and http(s)
// URLs, which become links that open in a new tab without the opener. Nothing else is interpreted: other
// schemes (javascript:, data:) and raw HTML stay text, line breaks stay as typed (the body is pre-wrap).
//
// Mentions: an `@username` the server resolved (the message's `mentions`, given here as username keys) is
// marked, more strongly when it names the reader. It is found as the server finds it (messaging's
// mentions.rs): an `@` at a word start, 3 to 32 name characters, a trailing `.` not part of the name, and
// names compared with case and width folded.

import type { ReactNode } from "react";

/** Formatting nests at most this deep (the rest stays text), which also bounds the recursion. */
const MAX_DEPTH = 3;

/** Username keys (see `usernameKey`) of the members a message mentions; true for the reader. */
export type Mentions = ReadonlyMap<string, boolean>;

const NO_MENTIONS: Mentions = new Map();

/** A username folded for comparison, close to the server's (NFKC, lower case). */
export function usernameKey(name: string): string {
  return name.normalize("NFKC").toLowerCase().normalize("NFKC");
}

export function renderMarkdown(text: string, mentions: Mentions = NO_MENTIONS): ReactNode[] {
  const out: ReactNode[] = [];
  const lines = text.split("\n");
  let para: string[] = [];
  const flush = () => {
    if (para.length) out.push(<span key={out.length}>{inline(para.join("\n"), 0, mentions)}</span>);
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const fence = /^ {0,3}```([^`]*)$/.exec(lines[i]);
    if (!fence) {
      para.push(lines[i]);
      continue;
    }
    flush();
    const code: string[] = [];
    for (i += 1; i < lines.length && !/^ {0,3}```\s*$/.test(lines[i]); i++) code.push(lines[i]);
    // An unclosed fence runs to the end of the message, as in CommonMark.
    const lang = fence[1].trim();
    out.push(
      <pre key={out.length} className="code-block" data-lang={lang || undefined}>
        <code>{code.join("\n")}</code>
      </pre>,
    );
  }
  flush();
  return out;
}

const CODE = /(`+)([^`][\s\S]*?)\1(?!`)/y;
const URL_START = /https?:\/\/[^\s<>"'`]+/iy;
const STRONG = /\*\*(?![\s*])([\s\S]*?[^\s*])\*\*/y;
const EM_STAR = /\*(?![\s*])([\s\S]*?[^\s*])\*(?!\*)/y;
const EM_UNDERSCORE = /_(?![\s_])([\s\S]*?[^\s_])_(?![\p{L}\p{N}_])/uy;
const WORD = /[\p{L}\p{N}_]/u;
const NAME_CHAR = /[\p{L}\p{M}\p{N}_.-]/u;
const MENTION = /@([\p{L}\p{M}\p{N}_.-]+)/uy;

function inline(text: string, depth: number, mentions: Mentions): ReactNode[] {
  const out: ReactNode[] = [];
  let plain = "";
  const push = (node: ReactNode) => {
    if (plain) out.push(plain);
    plain = "";
    out.push(node);
  };
  const at = (re: RegExp, i: number) => {
    re.lastIndex = i;
    return re.exec(text);
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const afterWord = i > 0 && WORD.test(text[i - 1]);
    let m: RegExpExecArray | null = null;
    if (c === "`" && (m = at(CODE, i))) {
      push(<code key={out.length}>{m[2]}</code>);
    } else if ((c === "h" || c === "H") && !afterWord && (m = at(URL_START, i))) {
      const url = trimUrl(m[0]);
      if (!isWebUrl(url)) {
        m = null;
      } else {
        push(
          <a key={out.length} href={url} target="_blank" rel="noopener noreferrer">
            {url}
          </a>,
        );
        i += url.length;
        continue;
      }
    } else if (c === "@" && mentions.size && !(i > 0 && (NAME_CHAR.test(text[i - 1]) || text[i - 1] === "@")) && (m = at(MENTION, i))) {
      const name = m[1].replace(/\.+$/, "");
      const self = mentions.get(usernameKey(name));
      if (self === undefined || [...name].length < 3 || [...name].length > 32) {
        m = null;
      } else {
        push(
          <span key={out.length} className={self ? "mention self" : "mention"} data-testid="mention">
            @{name}
          </span>,
        );
        i += 1 + name.length;
        continue;
      }
    } else if (depth < MAX_DEPTH && c === "*" && (m = at(STRONG, i))) {
      push(<strong key={out.length}>{inline(m[1], depth + 1, mentions)}</strong>);
    } else if (depth < MAX_DEPTH && c === "*" && (m = at(EM_STAR, i))) {
      push(<em key={out.length}>{inline(m[1], depth + 1, mentions)}</em>);
    } else if (depth < MAX_DEPTH && c === "_" && !afterWord && (m = at(EM_UNDERSCORE, i))) {
      push(<em key={out.length}>{inline(m[1], depth + 1, mentions)}</em>);
    }
    if (m) {
      i += m[0].length;
    } else {
      plain += c;
      i += 1;
    }
  }
  if (plain) out.push(plain);
  return out;
}

/** Drops sentence punctuation after a URL, and closing brackets that the URL did not open. */
function trimUrl(url: string): string {
  for (;;) {
    const last = url[url.length - 1];
    const open = { ")": "(", "]": "[", "}": "{" }[last as ")" | "]" | "}"];
    if (".,;:!?*_~".includes(last)) url = url.slice(0, -1);
    else if (open && count(url, open) < count(url, last)) url = url.slice(0, -1);
    else return url;
  }
}

function count(s: string, c: string) {
  return s.split(c).length - 1;
}

/** Only http and https links, and only ones a browser can parse. */
export function isWebUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname.length > 0;
  } catch {
    return false;
  }
}
