// The room's title and actions. On a phone the actions fold into one "⋯" menu so the title keeps the width.

import { useEffect, useRef, useState, type ReactNode } from "react";
import { rooms as roomsApi } from "../api/client";
import { RoomKind } from "../gen/chat/v1/rooms_pb";
import { useChat } from "../hooks/useChat";
import { PHONE, useMediaQuery } from "../hooks/useMediaQuery";
import { roomTitle, type RoomState } from "../store/chat";

interface Props {
  state: RoomState;
  inviting: boolean;
  membersOpen: boolean;
  onInvite: () => void;
  onMembers: () => void;
}

export function RoomHeader({ state, inviting, membersOpen, onInvite, onMembers }: Props) {
  const { store, user, act } = useChat();
  const room = state.room;
  const phone = useMediaQuery(PHONE);
  const group = room.kind !== RoomKind.DIRECT;
  const count = state.members?.length;
  const leave = () => {
    if (window.confirm(`Leave ${room.name}?`)) void act(() => roomsApi.leaveRoom({ roomId: room.id }));
  };

  const actions = (
    <>
      {group && (
        <button onClick={onInvite} aria-expanded={inviting}>
          Invite
        </button>
      )}
      <button onClick={onMembers} aria-expanded={membersOpen} data-testid="members-toggle">
        Members{count ? ` (${count})` : ""}
      </button>
      {group && (
        <button className="danger" onClick={leave}>
          Leave
        </button>
      )}
    </>
  );

  return (
    <header className="room-header">
      <button className="back" onClick={() => act(() => store.open(null))} aria-label="Back to rooms">
        ‹
      </button>
      <div className="title">
        <h1 data-testid="room-title">{roomTitle(room, user.id)}</h1>
        {room.topic && <p>{room.topic}</p>}
      </div>
      {phone ? <ActionMenu>{actions}</ActionMenu> : <div className="row">{actions}</div>}
    </header>
  );
}

/** A button that shows the actions in a small panel; choosing one, Escape or a click elsewhere closes it. */
function ActionMenu({ children }: { children: ReactNode }) {
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const onDown = (e: PointerEvent) => box.current?.contains(e.target as Node) || setOpen(false);
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && setOpen(false);
    document.addEventListener("pointerdown", onDown);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("pointerdown", onDown);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);
  return (
    <div className="action-menu" ref={box}>
      <button className="icon" aria-label="Room actions" aria-expanded={open} onClick={() => setOpen((v) => !v)}>
        ⋯
      </button>
      {open && (
        <div className="menu-panel" onClick={() => setOpen(false)}>
          {children}
        </div>
      )}
    </div>
  );
}
