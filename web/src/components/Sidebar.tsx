// The left column: who is signed in, what can be started, pending invitations, rooms and direct
// conversations.

import { auth } from "../api/client";
import { endSession, getSession } from "../api/session";
import { RoomKind } from "../gen/chat/v1/rooms_pb";
import { useChat } from "../hooks/useChat";
import type { DialogName } from "./dialogs/Dialogs";
import { Invitations } from "./Invitations";
import { RoomList } from "./RoomList";
import { SearchBox } from "./SearchBox";

export function Sidebar({ onDialog }: { onDialog: (name: DialogName) => void }) {
  const { snap, user } = useChat();
  const status = snap.away ? "away" : snap.connection.phase === "live" ? "online" : "offline";
  return (
    <aside className="sidebar" aria-label="Rooms">
      <header className="me">
        <div className="who">
          <strong title={`@${user.username}`}>{user.displayName || user.username}</strong>
          <small className={`status ${status}`} data-testid="my-status">
            {status === "online" ? "Online" : status === "away" ? "Away" : "Not connected"}
          </small>
        </div>
        <button className="link" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      <div className="actions">
        <button onClick={() => onDialog("create")}>New room</button>
        <button onClick={() => onDialog("directory")}>Browse</button>
        <button onClick={() => onDialog("direct")}>Message…</button>
      </div>
      <SearchBox />
      <Invitations />
      <RoomList title="Rooms" rooms={snap.rooms.filter((r) => r.room.kind !== RoomKind.DIRECT)} />
      <RoomList title="Direct" rooms={snap.rooms.filter((r) => r.room.kind === RoomKind.DIRECT)} />
      {!snap.rooms.length && snap.connection.phase === "live" && (
        <p className="muted hint">No rooms yet. Create one, or browse the public ones.</p>
      )}
    </aside>
  );
}

async function signOut() {
  const session = getSession();
  try {
    if (session) await auth.logout({ refreshToken: session.refreshToken, allSessions: false });
  } catch {
    // Signed out locally either way; the server forgets the session when its token expires.
  }
  endSession();
}
