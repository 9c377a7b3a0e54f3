// A message's actions: react, reply, and (for its sender) edit, (for its sender and the room's owner and
// admins) delete. On a desktop they show on hover or keyboard focus, as a small toolbar beside the bubble; on
// a phone they fold into one "⋯" menu, always visible, opened by a tap.

import type { Message } from "../gen/chat/v1/messages_pb";
import type { TimelineActions } from "../hooks/useTimelineActions";
import { Popover } from "./Popover";

/** The emoji offered for a quick reaction. */
export const QUICK_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "👀", "✅"];

interface Props {
  message: Message;
  canEdit: boolean;
  canDelete: boolean;
  actions: TimelineActions;
}

export function MessageMenu({ message, canEdit, canDelete, actions }: Props) {
  const emoji = QUICK_EMOJI.map((e) => (
    <button
      key={e}
      type="button"
      className="emoji"
      aria-label={`React with ${e}`}
      aria-pressed={message.reactions.some((r) => r.emoji === e && r.reactedByCaller)}
      onClick={() => actions.toggleReaction(message, e)}
    >
      {e}
    </button>
  ));
  const reply = (
    <button type="button" onClick={() => actions.reply(message)}>
      Reply
    </button>
  );
  const more = (
    <>
      {canEdit && (
        <button type="button" onClick={() => actions.edit(message.seq)}>
          Edit
        </button>
      )}
      {canDelete && (
        <button type="button" className="danger" onClick={() => actions.remove(message)}>
          Delete
        </button>
      )}
    </>
  );

  if (actions.compact) {
    return (
      <div className="message-tools compact" data-testid="message-tools">
        <Popover label="Message actions" icon="⋯">
          <div className="emoji-row">{emoji}</div>
          {reply}
          {more}
        </Popover>
      </div>
    );
  }
  return (
    <div className="message-tools" data-testid="message-tools">
      <Popover label="Add reaction" icon="☺" panelClass="emoji-panel">
        {emoji}
      </Popover>
      <button type="button" className="icon" aria-label="Reply" title="Reply" onClick={() => actions.reply(message)}>
        ↩
      </button>
      {(canEdit || canDelete) && (
        <Popover label="More actions" icon="⋯">
          {more}
        </Popover>
      )}
    </div>
  );
}
