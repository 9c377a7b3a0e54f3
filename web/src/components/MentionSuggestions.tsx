// @-autocomplete for the message box: while an `@name` is typed, the room's members whose username or
// display name starts with it are offered above the box (at most six). Up and Down choose, Enter or Tab
// inserts `@username `, Escape closes the list; a click inserts too. The box keeps the focus throughout
// (the list is its aria-activedescendant).

import { useState, type KeyboardEvent, type RefObject } from "react";
import type { Member } from "../gen/chat/v1/rooms_pb";
import { usernameKey } from "../lib/markdown";
import { completeMention, mentionQuery } from "../lib/mentionQuery";

const MAX = 6;

interface Options {
  members: Member[] | null;
  selfId: string;
  text: string;
  setText: (text: string) => void;
  input: RefObject<HTMLTextAreaElement | null>;
}

export function useMentionSuggestions({ members, selfId, text, setText, input }: Options) {
  const [caret, setCaret] = useState(0);
  const [pick, setPick] = useState(0);
  const [closedAt, setClosedAt] = useState<number | null>(null);
  const query = mentionQuery(text, caret);
  const key = query ? usernameKey(query.prefix) : "";
  const users =
    query && closedAt !== query.start
      ? (members ?? [])
          .flatMap((m) => (m.user && m.user.id !== selfId ? [m.user] : []))
          .filter((u) => usernameKey(u.username).startsWith(key) || usernameKey(u.displayName).startsWith(key))
          .slice(0, MAX)
      : [];
  const chosen = Math.min(pick, users.length - 1);

  const choose = (username: string) => {
    if (!query) return;
    const next = completeMention(text, caret, query, username);
    setText(next.text);
    setCaret(next.caret);
    requestAnimationFrame(() => input.current?.setSelectionRange(next.caret, next.caret));
  };

  return {
    /** Call with the box's caret after every change or move. */
    moved: (el: HTMLTextAreaElement) => {
      if (el.selectionStart !== caret) setPick(0);
      setCaret(el.selectionStart);
    },
    /** Handles the list's keys; true when the key was for it. */
    keyDown: (e: KeyboardEvent<HTMLTextAreaElement>): boolean => {
      if (!users.length) return false;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        setPick((chosen + (e.key === "ArrowDown" ? 1 : users.length - 1)) % users.length);
      } else if ((e.key === "Enter" && !e.shiftKey) || e.key === "Tab") {
        choose(users[chosen].username);
      } else if (e.key === "Escape") {
        setClosedAt(query?.start ?? null);
      } else {
        return false;
      }
      e.preventDefault();
      return true;
    },
    /** Attributes for the box. */
    boxProps: {
      "aria-autocomplete": "list" as const,
      "aria-controls": users.length ? "mention-options" : undefined,
      "aria-activedescendant": users.length ? `mention-${users[chosen].id}` : undefined,
    },
    list: users.length ? (
      <ul className="suggestions" id="mention-options" role="listbox" aria-label="Members to mention" data-testid="mention-options">
        {users.map((u, i) => (
          <li
            key={u.id}
            id={`mention-${u.id}`}
            role="option"
            aria-selected={i === chosen}
            onMouseDown={(e) => {
              e.preventDefault();
              choose(u.username);
            }}
          >
            {u.displayName && u.displayName !== u.username ? (
              <>
                <strong>{u.displayName}</strong> <span className="muted">@{u.username}</span>
              </>
            ) : (
              <strong>@{u.username}</strong>
            )}
          </li>
        ))}
      </ul>
    ) : null,
  };
}
