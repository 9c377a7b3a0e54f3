// The quote above a reply: the replied-to message's sender and first line. A message that is not loaded is
// read with GetMessage. Clicking the quote goes to the message (see useTimelineScroll's jumpTo).

import { useEffect } from "react";
import type { Message } from "../gen/chat/v1/messages_pb";
import type { TimelineActions } from "../hooks/useTimelineActions";

/** The first line of a body, shortened to about `max` characters. */
export function excerpt(body: string, max = 100): string {
  const line = body.trim().split("\n")[0];
  const chars = [...line];
  return chars.length > max ? `${chars.slice(0, max).join("").trimEnd()}…` : line;
}

interface Props {
  seq: bigint;
  /** The target: undefined while it is being read, null when it could not be. */
  target: Message | null | undefined;
  name: string;
  actions: TimelineActions;
}

export function ReplyQuote({ seq, target, name, actions }: Props) {
  useEffect(() => {
    if (target === undefined) actions.fetchQuoted(seq);
  }, [target, seq, actions]);
  const gone = !!target?.deletedAt;
  const text = target === undefined ? "…" : target === null ? "message unavailable" : gone ? "deleted message" : excerpt(target.body);
  return (
    <button
      type="button"
      className="quote"
      data-testid="reply-quote"
      data-target={String(seq)}
      title="Go to the message replied to"
      onClick={() => actions.jumpTo(seq)}
    >
      <span className="visually-hidden">In reply to </span>
      {target && <span className="quote-name">{name}</span>}
      {target && <span className="visually-hidden">: </span>}
      <span className={`quote-text ${gone || !target ? "muted-text" : ""}`} dir="auto">
        {text}
      </span>
    </button>
  );
}
