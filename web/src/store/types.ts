// The shapes of the chat state that views read (see chat.ts).

import type { Member, Room } from "../gen/chat/v1/rooms_pb";
import type { Message } from "../gen/chat/v1/messages_pb";
import type { PresenceStatus } from "../gen/chat/v1/presence_pb";
import type { Person } from "./people";

export type { Person };

export interface RoomState {
  room: Room;
  /** Loaded entries by seq (a contiguous run ending at the newest loaded). */
  entries: Map<number, Message>;
  /** Changes whenever `entries` does, for views that memoise on it. */
  version: number;
  /** Whether the newest page has been loaded (entries are kept only then). */
  loaded: boolean;
  /** Whether older entries exist before the oldest loaded one. */
  hasOlder: boolean;
  /** The highest seq this tab knows of: the stream resumes after it. */
  latest: number;
  /** The user's read marker: the highest seq read, on any device (the server's, moved on as the user reads). */
  seen: number;
  /** Others' messages after `seen` that are not deleted (the server's count, then kept up live). */
  unread: number;
  /** Those of them that mention the user. */
  mentions: number;
  /** Kept for views that still show a "more" mark; the server's counts are exact, so always false. */
  unreadMore: boolean;
  /** The seq up to which the server's counts include entries: live entries above it are counted here. */
  countedTo: number;
  /** Where the "new messages" divider goes (after this seq) while the room is open; null for none. */
  dividerAfter: number | null;
  /** Counts membership entries, so that views reload the member list when it changes. */
  membership: number;
  /** The member list, once loaded. */
  members: Member[] | null;
  /** Messages read with GetMessage because a loaded reply names them (null: could not be read), by seq. */
  quoted: Map<number, Message | null>;
  /** For each text message held: the seq up to which its state is current (see actions.ts). */
  asOf: Map<number, number>;
  /** Co-members typing now, by user id (a new map on every change). */
  typing: ReadonlyMap<string, Typist>;
}

export interface Typist {
  userId: string;
  username: string;
  /** When to stop showing it (ms since the epoch, this browser's clock). */
  expiresAt: number;
}

export interface Invitation {
  room: Room;
  /** The inviter's username, when this browser saw the invitation arrive; else empty. */
  inviter: string;
}

export type Phase = "connecting" | "live" | "reconnecting";

export interface Connection {
  phase: Phase;
  /** When the next attempt starts (ms since the epoch), while waiting for it. */
  retryAt: number | null;
  /** Why the last attempt failed, in plain words. */
  error: string | null;
}

export interface Snapshot {
  rooms: RoomState[];
  invitations: Invitation[];
  presence: ReadonlyMap<string, PresenceStatus>;
  /** Everyone the app has a display name for, by user id. */
  people: ReadonlyMap<string, Person>;
  connection: Connection;
  activeId: string | null;
  /** Whether this user is (being) shown as away. */
  away: boolean;
  /** Something that happened to the user that they should hear about (e.g. removal from a room). */
  notice: string | null;
  unreadTotal: number;
  /** A message to show in its context (a search result chosen), once its room's timeline is open. */
  jump: Jump | null;
}

export interface Jump {
  roomId: string;
  seq: bigint;
}
