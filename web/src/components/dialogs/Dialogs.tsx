// The dialogs the sidebar opens: a new room, the public directory, a direct conversation.

import { useChat } from "../../hooks/useChat";
import type { Room } from "../../gen/chat/v1/rooms_pb";
import { CreateRoom } from "./CreateRoom";
import { DirectMessage } from "./DirectMessage";
import { Directory } from "./Directory";
import { Modal } from "./Modal";

export type DialogName = "create" | "directory" | "direct";

const TITLES: Record<DialogName, string> = { create: "New room", directory: "Public rooms", direct: "Direct message" };

export function Dialogs({ name, onClose }: { name: DialogName; onClose: () => void }) {
  const { store, snap } = useChat();
  // A room made or found here is added and opened.
  const opened = async (room: Room) => {
    store.addRoom(room);
    onClose();
    await store.open(room.id);
  };
  return (
    <Modal title={TITLES[name]} onClose={onClose}>
      {name === "create" && <CreateRoom onDone={opened} />}
      {name === "directory" && (
        <Directory
          joined={new Set(snap.rooms.map((r) => r.room.id))}
          onJoin={async (roomId) => {
            await store.join(roomId);
            onClose();
          }}
        />
      )}
      {name === "direct" && <DirectMessage onDone={opened} />}
    </Modal>
  );
}
