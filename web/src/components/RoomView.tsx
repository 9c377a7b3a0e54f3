// The open room: its header, the timeline, the members panel when asked for, who is typing, and the message
// box. The reply being written and the message being edited live here, shared by the timeline and the box.

import { useCallback, useEffect, useMemo, useState } from "react";
import { MessageKind, type Message } from "../gen/chat/v1/messages_pb";
import { useChat } from "../hooks/useChat";
import { isAction } from "../store/actions";
import type { RoomState } from "../store/chat";
import { Composer } from "./Composer";
import { InviteForm } from "./InviteForm";
import { MembersPanel } from "./MembersPanel";
import { RoomHeader } from "./RoomHeader";
import { Timeline } from "./Timeline";
import { TypingIndicator } from "./TypingIndicator";

export function RoomView({ state }: { state: RoomState }) {
  const { store, user } = useChat();
  const roomId = state.room.id;
  const [showMembers, setShowMembers] = useState(false);
  const [inviting, setInviting] = useState(false);
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const [editing, setEditing] = useState<bigint | null>(null);

  // Members name the senders and decide what the user may do: again whenever membership changes.
  useEffect(() => {
    store.loadMembers(roomId).catch((e) => console.warn("members:", e));
  }, [store, roomId, state.membership]);

  const { version, entries: byseq } = state;
  const entries = useMemo(
    () => [...byseq.values()].filter((m) => !isAction(m)).sort((a, b) => Number(a.seq - b.seq)),
    [byseq, version],
  );

  const reply = useCallback((m: Message) => {
    setReplyTo(m);
    document.getElementById("composer")?.focus();
  }, []);
  const edit = useCallback((seq: bigint | null) => {
    setEditing(seq);
    if (seq === null) document.getElementById("composer")?.focus();
  }, []);
  const editLast = () => {
    const last = [...entries].reverse().find((m) => m.kind === MessageKind.TEXT && m.senderId === user.id && !m.deletedAt);
    if (last) setEditing(last.seq);
  };
  // The reply's target as it is now (edited, or deleted meanwhile).
  const replying = replyTo ? (byseq.get(Number(replyTo.seq)) ?? replyTo) : null;

  return (
    <div className="room-view">
      <RoomHeader
        state={state}
        inviting={inviting}
        membersOpen={showMembers}
        onInvite={() => setInviting((v) => !v)}
        onMembers={() => setShowMembers((v) => !v)}
      />
      {inviting && <InviteForm roomId={roomId} onDone={() => setInviting(false)} />}
      <div className="room-body">
        <Timeline state={state} entries={entries} editing={editing} onEdit={edit} onReply={reply} />
        {showMembers && <MembersPanel state={state} onClose={() => setShowMembers(false)} />}
      </div>
      <TypingIndicator typing={state.typing} />
      <Composer roomId={roomId} members={state.members} replyTo={replying} onCancelReply={() => setReplyTo(null)} onEditLast={editLast} />
    </div>
  );
}
