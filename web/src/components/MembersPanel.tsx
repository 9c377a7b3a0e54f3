// The room's members with their presence and role. Owners and admins manage members here, following the
// server's rules (docs/BEHAVIOUR.md): the owner may remove anyone else and change roles (handing ownership
// over makes them an admin); an admin may remove members but not admins; nobody removes the owner. The
// server decides in the end; its refusal is shown in plain words. On a phone the panel is a full-screen
// sheet, and on every size it has a Close button.

import { useState } from "react";
import { rooms as roomsApi } from "../api/client";
import { describeError } from "../api/errors";
import { Role } from "../gen/chat/v1/rooms_pb";
import { useChat } from "../hooks/useChat";
import type { RoomState } from "../store/chat";
import { MemberRow } from "./MemberRow";
import { Alert } from "./ui";

export function MembersPanel({ state, onClose }: { state: RoomState; onClose: () => void }) {
  const { store, snap, user } = useChat();
  const [error, setError] = useState<string | null>(null);
  const roomId = state.room.id;
  const members = state.members ?? [];
  const myRole = members.find((m) => m.user?.id === user.id)?.role ?? state.room.callerRole;

  const run = async (what: () => Promise<unknown>) => {
    setError(null);
    try {
      await what();
    } catch (e) {
      setError(describeError(e));
    }
    // The stream's membership entry reloads the list too; this makes the change show at once.
    await store.loadMembers(roomId).catch(() => {});
  };

  return (
    <aside className="members" aria-labelledby="members-title" data-testid="members-panel">
      <header>
        <h2 id="members-title">Members{state.members ? ` (${members.length})` : ""}</h2>
        <button className="small" onClick={onClose}>
          Close
        </button>
      </header>
      <Alert error={error} />
      {!state.members && <p className="muted">Loading…</p>}
      <ul className="list">
        {members.map((m) => (
          <MemberRow
            key={m.user?.id}
            member={m}
            myRole={myRole}
            isSelf={m.user?.id === user.id}
            status={snap.presence.get(m.user?.id ?? "") ?? m.presence}
            onRemove={() => run(() => roomsApi.removeMember({ roomId, userId: m.user?.id ?? "" }))}
            onRole={(role: Role) => run(() => roomsApi.setMemberRole({ roomId, userId: m.user?.id ?? "", role }))}
          />
        ))}
      </ul>
    </aside>
  );
}
