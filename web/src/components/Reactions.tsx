// A message's reactions as chips (emoji and count), highlighted where the reader reacted; a click adds the
// reader's reaction or takes it back.

import type { Message } from "../gen/chat/v1/messages_pb";
import type { TimelineActions } from "../hooks/useTimelineActions";

export function Reactions({ message, actions }: { message: Message; actions: TimelineActions }) {
  if (!message.reactions.length) return null;
  return (
    <div className="reactions" role="group" aria-label="Reactions">
      {message.reactions.map((r) => {
        const count = String(r.count);
        const label = `${r.emoji} ${count} ${r.count === 1n ? "reaction" : "reactions"}${r.reactedByCaller ? ", yours among them" : ""}`;
        return (
          <button
            key={r.emoji}
            type="button"
            className={`chip ${r.reactedByCaller ? "mine" : ""}`}
            aria-pressed={r.reactedByCaller}
            aria-label={label}
            title={r.reactedByCaller ? "Take your reaction back" : `React with ${r.emoji}`}
            data-testid="reaction"
            data-emoji={r.emoji}
            data-count={count}
            onClick={() => actions.toggleReaction(message, r.emoji)}
          >
            <span aria-hidden="true">{r.emoji}</span>
            <span className="n" aria-hidden="true">
              {count}
            </span>
          </button>
        );
      })}
    </div>
  );
}
