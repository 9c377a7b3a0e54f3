// The message box: grows with its text (up to a limit, then scrolls), Enter sends and Shift+Enter starts a
// new line. Bodies may have 4,000 characters (counted as the server counts them, in Unicode code points);
// near the limit a counter shows, and past it the box says by how much and will not send, so nothing is
// ever cut silently (not even a long paste). A failed send keeps the text, and its error shows in the banner.

import { useLayoutEffect, useRef, useState, type FormEvent } from "react";
import { messages } from "../api/client";
import { isTransient } from "../api/errors";
import { useChat } from "../hooks/useChat";

export const MAX_BODY = 4000;
const SHOW_COUNT_FROM = 3000;
const format = (n: number) => n.toLocaleString("en-US");

export function Composer({ roomId }: { roomId: string }) {
  const { act } = useChat();
  const [text, setText] = useState("");
  const [sending, setSending] = useState(false);
  const input = useRef<HTMLTextAreaElement>(null);
  const length = [...text].length;
  const over = length > MAX_BODY;
  const body = text.replace(/^\s*\n/, "").trimEnd();

  useLayoutEffect(() => {
    const el = input.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${el.scrollHeight + el.offsetHeight - el.clientHeight}px`;
  }, [text]);

  async function send(e?: FormEvent) {
    e?.preventDefault();
    if (!body.trim() || over || sending) return;
    setSending(true);
    // One id per message: a retry after a lost answer is stored once.
    const clientMessageId = crypto.randomUUID();
    const ok = await act(async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await messages.sendMessage({ roomId, body, clientMessageId });
        } catch (err) {
          if (attempt >= 3 || !isTransient(err)) throw err;
          await new Promise((r) => setTimeout(r, 300 * 2 ** attempt));
        }
      }
    });
    if (ok) setText("");
    setSending(false);
    input.current?.focus();
  }

  return (
    <form className="composer" onSubmit={send}>
      <label className="visually-hidden" htmlFor="composer">
        Message
      </label>
      <div className="field">
        <textarea
          id="composer"
          ref={input}
          rows={1}
          dir="auto"
          value={text}
          placeholder="Write a message…"
          title="Enter sends; Shift+Enter starts a new line"
          aria-describedby="composer-count"
          aria-invalid={over || undefined}
          autoFocus
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              void send();
            }
          }}
        />
        <span id="composer-count" className={`count ${over ? "over" : ""}`} data-testid="composer-count" aria-live="polite">
          {over
            ? `${format(length)} / ${format(MAX_BODY)}: ${format(length - MAX_BODY)} too many to send`
            : length >= SHOW_COUNT_FROM
              ? `${format(length)} / ${format(MAX_BODY)}`
              : ""}
        </span>
      </div>
      <button className="primary" type="submit" disabled={sending || over || !body.trim()}>
        Send
      </button>
    </form>
  );
}
