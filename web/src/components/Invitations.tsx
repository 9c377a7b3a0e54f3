// Pending invitations: join, or decline (on the server, so it ends on every device and after reloads).

import { useChat } from "../hooks/useChat";

export function Invitations() {
  const { snap, store, act } = useChat();
  if (!snap.invitations.length) return null;
  return (
    <section aria-labelledby="invitations-title">
      <h2 id="invitations-title">Invitations</h2>
      <ul className="list">
        {snap.invitations.map(({ room, inviter }) => (
          <li key={room.id} className="invitation" data-testid="invitation">
            <span className="what">
              <strong>{room.name}</strong>
              <small>{inviter ? `from ${inviter}` : "you are invited"}</small>
            </span>
            <span className="row">
              <button className="primary small" onClick={() => act(() => store.join(room.id))}>
                Join
              </button>
              <button
                className="small"
                onClick={() => act(() => store.declineInvitation(room.id))}
                aria-label={`Decline the invitation to ${room.name}`}
              >
                Decline
              </button>
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
