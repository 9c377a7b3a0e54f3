// The inline editor of one of the user's messages: Enter saves, Shift+Enter starts a new line, Escape
// cancels. A failed save keeps the editor open (its error shows in the banner).

import { useLayoutEffect, useRef, useState, type FormEvent } from "react";
import { messages } from "../api/client";
import { withRetries } from "../api/errors";
import type { Message } from "../gen/chat/v1/messages_pb";
import { useChat } from "../hooks/useChat";
import { MAX_BODY } from "./Composer";

export function MessageEditor({ message, onDone }: { message: Message; onDone: () => void }) {
  const { act } = useChat();
  const [text, setText] = useState(message.body);
  const [saving, setSaving] = useState(false);
  const input = useRef<HTMLTextAreaElement>(null);
  const body = text.trim();
  const over = [...text].length > MAX_BODY;

  useLayoutEffect(() => {
    const el = input.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${el.scrollHeight + el.offsetHeight - el.clientHeight}px`;
  }, [text]);
  useLayoutEffect(() => {
    const el = input.current;
    el?.focus();
    el?.setSelectionRange(el.value.length, el.value.length);
  }, []);

  async function save(e?: FormEvent) {
    e?.preventDefault();
    if (saving || over || !body) return;
    if (text === message.body) return onDone();
    setSaving(true);
    // One id per save: a retry after a lost answer edits once.
    const clientMessageId = crypto.randomUUID();
    const { roomId, seq } = message;
    const ok = await act(() => withRetries(() => messages.editMessage({ roomId, seq, body: text, clientMessageId })));
    setSaving(false);
    if (ok) onDone();
  }

  return (
    <form className="editor" onSubmit={save}>
      <textarea
        ref={input}
        rows={1}
        dir="auto"
        value={text}
        aria-label="Edit message"
        aria-invalid={over || undefined}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            e.preventDefault();
            onDone();
          } else if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            void save();
          }
        }}
      />
      <div className="row">
        <small>{over ? `Too long by ${[...text].length - MAX_BODY}` : "Enter saves · Esc cancels"}</small>
        <button type="button" className="small" onClick={onDone}>
          Cancel
        </button>
        <button type="submit" className="small primary" disabled={saving || over || !body}>
          Save
        </button>
      </div>
    </form>
  );
}
