// The room's title and actions. On a phone the actions fold into one "⋯" menu so the title keeps the width.

import { rooms as roomsApi } from "../api/client";
import { RoomKind } from "../gen/chat/v1/rooms_pb";
import { useChat } from "../hooks/useChat";
import { PHONE, useMediaQuery } from "../hooks/useMediaQuery";
import { roomTitle, type RoomState } from "../store/chat";
import { Popover } from "./Popover";

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
      {phone ? (
        <Popover className="action-menu" label="Room actions" icon="⋯">
          {actions}
        </Popover>
      ) : (
        <div className="row">{actions}</div>
      )}
    </header>
  );
}
