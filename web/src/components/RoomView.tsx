// The open room: its header, the timeline, the members panel when asked for, and the message box.

import { useEffect, useMemo, useState } from "react";
import { useChat } from "../hooks/useChat";
import type { RoomState } from "../store/chat";
import { Composer } from "./Composer";
import { InviteForm } from "./InviteForm";
import { MembersPanel } from "./MembersPanel";
import { RoomHeader } from "./RoomHeader";
import { Timeline } from "./Timeline";

export function RoomView({ state }: { state: RoomState }) {
  const { store } = useChat();
  const roomId = state.room.id;
  const [showMembers, setShowMembers] = useState(false);
  const [inviting, setInviting] = useState(false);

  // Members name the senders and decide what the user may do: again whenever membership changes.
  useEffect(() => {
    store.loadMembers(roomId).catch((e) => console.warn("members:", e));
  }, [store, roomId, state.membership]);

  const { version, entries: byseq } = state;
  const entries = useMemo(() => [...byseq.values()].sort((a, b) => Number(a.seq - b.seq)), [byseq, version]);

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
        <Timeline state={state} entries={entries} />
        {showMembers && <MembersPanel state={state} onClose={() => setShowMembers(false)} />}
      </div>
      <Composer roomId={roomId} />
    </div>
  );
}
