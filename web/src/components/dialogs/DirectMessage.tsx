import { rooms as roomsApi } from "../../api/client";
import type { Room } from "../../gen/chat/v1/rooms_pb";
import { DialogForm } from "./DialogForm";

export function DirectMessage({ onDone }: { onDone: (room: Room) => Promise<void> }) {
  return (
    <DialogForm
      submit="Open conversation"
      onSubmit={async (form) => {
        const { room } = await roomsApi.getDirectRoom({ username: String(form.get("username") ?? "").trim() });
        if (room) await onDone(room);
      }}
    >
      <label>
        Username
        <input name="username" required autoFocus autoComplete="off" />
      </label>
    </DialogForm>
  );
}
