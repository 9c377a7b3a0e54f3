import { rooms as roomsApi } from "../api/client";
import { useChat } from "../hooks/useChat";

/** Invites a user to the open room by username. */
export function InviteForm({ roomId, onDone }: { roomId: string; onDone: () => void }) {
  const { act } = useChat();
  return (
    <form
      className="inline-form"
      onSubmit={async (e) => {
        e.preventDefault();
        const username = String(new FormData(e.currentTarget).get("username") ?? "").trim();
        if (username && (await act(() => roomsApi.inviteMember({ roomId, username })))) onDone();
      }}
    >
      <label>
        Invite by username
        <input name="username" autoFocus required autoComplete="off" />
      </label>
      <button className="primary" type="submit">
        Send invitation
      </button>
    </form>
  );
}
