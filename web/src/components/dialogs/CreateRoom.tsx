import { rooms as roomsApi } from "../../api/client";
import { Visibility, type Room } from "../../gen/chat/v1/rooms_pb";
import { DialogForm } from "./DialogForm";

export function CreateRoom({ onDone }: { onDone: (room: Room) => Promise<void> }) {
  return (
    <DialogForm
      submit="Create room"
      onSubmit={async (form) => {
        const { room } = await roomsApi.createRoom({
          name: String(form.get("name") ?? ""),
          topic: String(form.get("topic") ?? ""),
          visibility: form.get("visibility") === "private" ? Visibility.PRIVATE : Visibility.PUBLIC,
        });
        if (room) await onDone(room);
      }}
    >
      <label>
        Name
        <input name="name" required maxLength={100} autoFocus />
      </label>
      <label>
        Topic <span className="optional">(optional)</span>
        <input name="topic" maxLength={1000} />
      </label>
      <fieldset>
        <legend>Who can join</legend>
        <label className="choice">
          <input type="radio" name="visibility" value="public" defaultChecked /> Public: anyone can find and join it
        </label>
        <label className="choice">
          <input type="radio" name="visibility" value="private" /> Private: by invitation only
        </label>
      </fieldset>
    </DialogForm>
  );
}
