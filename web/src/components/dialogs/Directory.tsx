// The public directory, searchable by name.

import { useEffect, useState } from "react";
import { rooms as roomsApi } from "../../api/client";
import { describeError } from "../../api/errors";
import { ListRoomsScope, type Room } from "../../gen/chat/v1/rooms_pb";
import { Alert } from "../ui";

export function Directory({ joined, onJoin }: { joined: Set<string>; onJoin: (roomId: string) => Promise<void> }) {
  const [filter, setFilter] = useState("");
  const [found, setFound] = useState<Room[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stale = false;
    const t = setTimeout(() => {
      roomsApi
        .listRooms({ scope: ListRoomsScope.PUBLIC, pageSize: 50, nameFilter: filter })
        .then((r) => !stale && setFound(r.rooms))
        .catch((e) => !stale && setError(describeError(e)));
    }, 200);
    return () => {
      stale = true;
      clearTimeout(t);
    };
  }, [filter]);

  return (
    <div className="stack">
      <label>
        Search
        <input value={filter} onChange={(e) => setFilter(e.target.value)} autoFocus placeholder="Room name" />
      </label>
      <Alert error={error} />
      <ul className="list directory">
        {found?.map((room) => (
          <li key={room.id}>
            <span>
              <strong># {room.name}</strong>
              <small>
                {" "}
                {String(room.memberCount)} member{room.memberCount === 1n ? "" : "s"}
              </small>
              {room.topic && <small className="topic">{room.topic}</small>}
            </span>
            {joined.has(room.id) ? (
              <small>joined</small>
            ) : (
              <button
                className="primary small"
                aria-label={`Join ${room.name}`}
                onClick={() => onJoin(room.id).catch((e) => setError(describeError(e)))}
              >
                Join
              </button>
            )}
          </li>
        ))}
        {found && !found.length && <li className="muted">No public rooms match.</li>}
      </ul>
    </div>
  );
}
