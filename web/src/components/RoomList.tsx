// One list of rooms in the sidebar, with unread badges (highlighted when a message mentions the user) and,
// for direct conversations, the peer's presence.

import { Visibility } from "../gen/chat/v1/rooms_pb";
import { useChat } from "../hooks/useChat";
import { roomTitle, type RoomState } from "../store/chat";
import { Dot, LockIcon } from "./ui";

export function RoomList({ title, rooms }: { title: string; rooms: RoomState[] }) {
  const { snap, store, user, act } = useChat();
  if (!rooms.length) return null;
  return (
    <nav aria-label={title}>
      <h2>{title}</h2>
      <ul className="list">
        {rooms.map((r) => {
          const peer = r.room.directPeer;
          const active = snap.activeId === r.room.id;
          const unread = r.unread > 0 ? `${r.unread}${r.unreadMore ? "+" : ""}` : r.unreadMore ? "•" : "";
          return (
            <li key={r.room.id}>
              <button
                className={`room-item ${active ? "active" : ""} ${unread ? "has-unread" : ""} ${r.mentions ? "has-mention" : ""}`}
                aria-current={active ? "page" : undefined}
                data-testid="room-item"
                onClick={() => act(() => store.open(r.room.id))}
              >
                {peer ? (
                  <Dot status={snap.presence.get(peer.id)} />
                ) : (
                  <span className="hash" role="img" aria-label={r.room.visibility === Visibility.PRIVATE ? "private" : "public"}>
                    {r.room.visibility === Visibility.PRIVATE ? <LockIcon /> : "#"}
                  </span>
                )}
                <span className="name" title={peer ? `@${peer.username}` : undefined}>
                  {roomTitle(r.room, user.id)}
                </span>
                {r.mentions > 0 && (
                  <span className="badge mention" data-testid="mentions" data-count={r.mentions}>
                    @{r.mentions}
                    <span className="visually-hidden"> {r.mentions === 1 ? "mention" : "mentions"}</span>
                  </span>
                )}
                {unread && (
                  <span className="badge" data-testid="unread" data-count={unread}>
                    {unread}
                    <span className="visually-hidden"> unread</span>
                  </span>
                )}
              </button>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
