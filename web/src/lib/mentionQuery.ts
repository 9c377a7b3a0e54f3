// @-autocomplete in the message box: the name being typed right before the caret, and the text after one is
// chosen. A name starts where the server's mention rule starts one (an `@` at a word start; see markdown.tsx).

const NAME_CHAR = /[\p{L}\p{M}\p{N}_.-]/u;

export interface MentionQuery {
  /** Where the `@` is. */
  start: number;
  /** What follows it, up to the caret. */
  prefix: string;
}

/** The `@name` being typed at `caret`, or null. */
export function mentionQuery(text: string, caret: number): MentionQuery | null {
  let i = caret;
  while (i > 0 && NAME_CHAR.test(text[i - 1])) i--;
  if (i === 0 || text[i - 1] !== "@") return null;
  const at = i - 1;
  if (at > 0 && (NAME_CHAR.test(text[at - 1]) || text[at - 1] === "@")) return null;
  const prefix = text.slice(i, caret);
  return prefix.length <= 32 ? { start: at, prefix } : null;
}

/** `text` with the query replaced by `@username ` and where the caret goes. */
export function completeMention(text: string, caret: number, query: MentionQuery, username: string) {
  const inserted = `@${username} `;
  const rest = text.slice(caret).replace(/^ /, "");
  return { text: text.slice(0, query.start) + inserted + rest, caret: query.start + inserted.length };
}
