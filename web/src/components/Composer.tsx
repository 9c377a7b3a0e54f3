// The message box: grows with its text (up to a limit, then scrolls), Enter sends and Shift+Enter starts a
// new line. Bodies may have 4,000 characters (counted as the server counts them, in Unicode code points);
// near the limit a counter shows, and past it the box says by how much and will not send, so nothing is
// ever cut silently (not even a long paste). A failed send keeps the text, and its error shows in the banner.
// A reply shows what it answers above the box (Escape or ✕ cancels it). Up arrow in an empty box edits the
// user's last message. Typing tells the room (see useTypingNotice); `@` offers the members to mention.

import { useLayoutEffect, useRef, useState, type FormEvent } from "react";
import { messages } from "../api/client";
import { withRetries } from "../api/errors";
import type { Message } from "../gen/chat/v1/messages_pb";
import { useChat } from "../hooks/useChat";
import { useTypingNotice } from "../hooks/useTypingNotice";
import { shownName } from "../lib/names";
import type { Member } from "../gen/chat/v1/rooms_pb";
import { useMentionSuggestions } from "./MentionSuggestions";
import { excerpt } from "./ReplyQuote";

export const MAX_BODY = 4000;
const SHOW_COUNT_FROM = 3000;
const format = (n: number) => n.toLocaleString("en-US");

interface Props {
  roomId: string;
  /** The room's members, for @-autocomplete. */
  members: Member[] | null;
  /** The message the next one replies to. */
  replyTo: Message | null;
  onCancelReply: () => void;
  /** Up arrow in the empty box: edit the user's last message. */
  onEditLast: () => void;
}

export function Composer({ roomId, members, replyTo, onCancelReply, onEditLast }: Props) {
  const { act, snap, user } = useChat();
  const typing = useTypingNotice(roomId);
  const [text, setText] = useState("");
  const [sending, setSending] = useState(false);
  const input = useRef<HTMLTextAreaElement>(null);
  const length = [...text].length;
  const over = length > MAX_BODY;
  const body = text.replace(/^\s*\n/, "").trimEnd();
  const suggest = useMentionSuggestions({ members, selfId: user.id, text, setText, input });

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
    const replyToSeq = replyTo?.seq ?? 0n;
    const ok = await act(() => withRetries(() => messages.sendMessage({ roomId, body, clientMessageId, replyToSeq })));
    if (ok) {
      setText("");
      typing.sent();
      onCancelReply();
    }
    setSending(false);
    input.current?.focus();
  }

  const replyName = replyTo ? shownName(snap.people, replyTo.senderId, replyTo.senderUsername, replyTo.senderDisplayName).name : "";
  return (
    <form className="composer" onSubmit={send}>
      <label className="visually-hidden" htmlFor="composer">
        Message
      </label>
      <div className="field">
        {suggest.list}
        {replyTo && (
          <div className="replying" data-testid="replying">
            <span className="what">
              Replying to <strong>{replyName}</strong>:{" "}
              <span dir="auto">{replyTo.deletedAt ? "deleted message" : excerpt(replyTo.body, 80)}</span>
            </span>
            <button type="button" className="link" aria-label="Cancel reply" title="Cancel reply" onClick={onCancelReply}>
              ✕
            </button>
          </div>
        )}
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
          {...suggest.boxProps}
          autoFocus
          onChange={(e) => {
            setText(e.target.value);
            suggest.moved(e.target);
            typing.changed(e.target.value);
          }}
          onSelect={(e) => suggest.moved(e.currentTarget)}
          onBlur={() => typing.left(text)}
          onKeyDown={(e) => {
            if (suggest.keyDown(e)) return;
            if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              void send();
            } else if (e.key === "Escape" && replyTo) {
              e.preventDefault();
              onCancelReply();
            } else if (e.key === "ArrowUp" && !text && !replyTo) {
              e.preventDefault();
              onEditLast();
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
