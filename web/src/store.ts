// The chat state of one signed-in tab, fed by one Subscribe stream for all rooms.
//
// The stream is opened with a cursor per joined room (the last seq this tab knows of) and follow_joins, so
// after a dropped connection it resumes exactly where it stopped: every entry after the cursor is
// replayed, then it goes on live. Entries are kept per room in a map by seq, so an entry seen twice (a page
// loaded while the stream delivered it) is stored once. React reads the state through
// useSyncExternalStore; every change makes a new snapshot object.

import { Code, ConnectError } from "@connectrpc/connect";
import type { Message, SubscribeResponse } from "./gen/chat/v1/messages_pb";
import { PresenceStatus } from "./gen/chat/v1/presence_pb";
import { ListRoomsScope, type Room } from "./gen/chat/v1/rooms_pb";
import { messages, rooms as roomsApi } from "./api/client";
import { describeError } from "./api/errors";
import { endSession } from "./api/session";

export interface RoomState {
  room: Room;
  /** Loaded entries by seq (a contiguous run ending at the newest loaded). */
  entries: Map<number, Message>;
  /** Whether the newest page has been loaded (entries are kept only then). */
  loaded: boolean;
  /** Whether older entries exist before the oldest loaded one. */
  hasOlder: boolean;
  /** The highest seq this tab knows of: the stream resumes after it. */
  latest: number;
  /** Messages from others that arrived while the room was not open. */
  unread: number;
}

export interface Invitation {
  room: Room;
  inviter: string;
}

export type Connection = "connecting" | "live" | "reconnecting";

export interface Snapshot {
  rooms: RoomState[];
  invitations: Invitation[];
  presence: ReadonlyMap<string, PresenceStatus>;
  connection: Connection;
  activeId: string | null;
}

const PAGE = 50;

export class ChatStore {
  private rooms = new Map<string, RoomState>();
  private invitations = new Map<string, Invitation>();
  private presence = new Map<string, PresenceStatus>();
  private connection: Connection = "connecting";
  private activeId: string | null = null;
  private snapshot: Snapshot;
  private listeners = new Set<() => void>();
  private abort = new AbortController();
  private selfId: string;

  constructor(selfId: string) {
    this.selfId = selfId;
    this.snapshot = this.makeSnapshot();
  }

  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = () => this.snapshot;

  private changed() {
    this.snapshot = this.makeSnapshot();
    this.listeners.forEach((l) => l());
  }

  private makeSnapshot(): Snapshot {
    const rooms = [...this.rooms.values()].sort((a, b) => roomTitle(a.room, "").localeCompare(roomTitle(b.room, "")));
    return {
      rooms,
      invitations: [...this.invitations.values()],
      presence: new Map(this.presence),
      connection: this.connection,
      activeId: this.activeId,
    };
  }

  /** Loads the rooms and invitations, then keeps the stream open until stop(). */
  async start() {
    const joined = await listAll(ListRoomsScope.JOINED);
    for (const room of joined) this.upsertRoom(room, Number(room.lastSeq));
    for (const room of await listAll(ListRoomsScope.INVITED)) {
      this.invitations.set(room.id, { room, inviter: "" });
    }
    this.changed();
    void this.runStream();
  }

  stop() {
    this.abort.abort();
  }

  private upsertRoom(room: Room, latest: number) {
    const existing = this.rooms.get(room.id);
    if (existing) {
      // Keep its cursor: the stream replays anything newer.
      existing.room = room;
    } else {
      this.rooms.set(room.id, { room, entries: new Map(), loaded: false, hasOlder: true, latest, unread: 0 });
    }
    this.invitations.delete(room.id);
  }

  private async runStream() {
    let delay = 500;
    while (!this.abort.signal.aborted) {
      try {
        const cursors = [...this.rooms.values()].map((r) => ({ roomId: r.room.id, afterSeq: BigInt(r.latest) }));
        const stream = messages.subscribe({ rooms: cursors, followJoins: true }, { signal: this.abort.signal });
        for await (const response of stream) {
          delay = 500;
          this.handle(response.event);
        }
        // The server ended the stream (shutting down): reconnect.
      } catch (e) {
        if (this.abort.signal.aborted) return;
        const err = ConnectError.from(e);
        if (err.code === Code.Unauthenticated) {
          endSession("Your session has ended. Please sign in again.");
          return;
        }
        if (err.code === Code.InvalidArgument || err.code === Code.NotFound || err.code === Code.PermissionDenied) {
          // A room we listed is gone for us (left or removed on another device): start from a fresh list.
          const joined = await listAll(ListRoomsScope.JOINED).catch(() => null);
          if (joined) {
            const keep = new Set(joined.map((r) => r.id));
            for (const id of [...this.rooms.keys()]) if (!keep.has(id)) this.rooms.delete(id);
            for (const room of joined) this.upsertRoom(room, Number(room.lastSeq));
          }
        }
        console.warn("subscription dropped:", describeError(e));
      }
      this.connection = "reconnecting";
      this.changed();
      await sleep(delay, this.abort.signal);
      delay = Math.min(delay * 2, 10_000);
    }
  }

  private handle(event: SubscribeResponse["event"]) {
    switch (event.case) {
      case "ready":
        this.connection = "live";
        break;
      case "message":
        this.addEntry(event.value, true);
        break;
      case "presenceChanged": {
        const p = event.value.presence;
        if (p?.user) this.presence.set(p.user.id, p.status);
        break;
      }
      case "roomAdded":
        if (event.value.room) this.upsertRoom(event.value.room, Number(event.value.afterSeq));
        break;
      case "roomRemoved":
        this.rooms.delete(event.value.roomId);
        if (this.activeId === event.value.roomId) this.activeId = null;
        break;
      case "invitationReceived":
        if (event.value.room && !this.rooms.has(event.value.room.id)) {
          this.invitations.set(event.value.room.id, { room: event.value.room, inviter: event.value.inviterUsername });
        }
        break;
      default:
        return; // heartbeats change nothing
    }
    this.changed();
  }

  private addEntry(m: Message, live: boolean) {
    const state = this.rooms.get(m.roomId);
    if (!state) return;
    const seq = Number(m.seq);
    if (live && seq > state.latest) {
      state.latest = seq;
      if (m.senderId !== this.selfId && this.activeId !== m.roomId && isText(m)) state.unread += 1;
      state.room.lastSeq = BigInt(seq);
    }
    // Kept only when it continues what is loaded (older gaps are filled by paging).
    if (state.loaded) state.entries.set(seq, m);
  }

  /** Opens a room: marks it read and loads its newest page the first time. */
  async open(roomId: string | null) {
    this.activeId = roomId;
    const state = roomId ? this.rooms.get(roomId) : undefined;
    if (state) state.unread = 0;
    this.changed();
    if (state && !state.loaded) {
      const page = await messages.listMessages({ roomId: state.room.id, limit: PAGE });
      state.loaded = true;
      state.hasOlder = page.hasMore;
      for (const m of page.messages) this.addEntry(m, false);
      // Entries the stream delivered while the page was on its way were not kept: read them.
      let newest = page.messages.length ? Number(page.messages[page.messages.length - 1].seq) : 0;
      while (newest < state.latest) {
        const next = await messages.listMessages({ roomId: state.room.id, afterSeq: BigInt(newest), limit: 200 });
        for (const m of next.messages) this.addEntry(m, false);
        if (!next.messages.length) break;
        newest = Number(next.messages[next.messages.length - 1].seq);
      }
      this.changed();
    }
  }

  /** Loads the page before the oldest loaded entry; false when there is none. */
  async loadOlder(roomId: string): Promise<boolean> {
    const state = this.rooms.get(roomId);
    if (!state || !state.loaded || !state.hasOlder) return false;
    const oldest = Math.min(...state.entries.keys());
    if (!Number.isFinite(oldest) || oldest <= 1) {
      state.hasOlder = false;
      this.changed();
      return false;
    }
    const page = await messages.listMessages({ roomId, beforeSeq: BigInt(oldest), limit: PAGE });
    for (const m of page.messages) state.entries.set(Number(m.seq), m);
    state.hasOlder = page.hasMore;
    this.changed();
    return page.messages.length > 0;
  }

  /** Adds a room the caller just created, joined or opened as a direct conversation. */
  addRoom(room: Room) {
    this.upsertRoom(room, Number(room.lastSeq));
    this.changed();
    // A stream opened before the join does not carry the room unless the server adds it (follow_joins
    // does, for joins); a direct room that already existed is carried already.
  }

  dropInvitation(roomId: string) {
    this.invitations.delete(roomId);
    this.changed();
  }

  setPresence(userId: string, status: PresenceStatus) {
    this.presence.set(userId, status);
    this.changed();
  }
}

function isText(m: Message) {
  return !m.member;
}

/** The name to show for a room: the peer's name for a direct conversation. */
export function roomTitle(room: Room, selfId: string): string {
  if (room.directPeer && room.directPeer.id !== selfId) return room.directPeer.displayName || room.directPeer.username;
  return room.name;
}

async function listAll(scope: ListRoomsScope): Promise<Room[]> {
  const all: Room[] = [];
  let pageToken = "";
  do {
    const page = await roomsApi.listRooms({ scope, pageSize: 100, pageToken });
    all.push(...page.rooms);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return all;
}

function sleep(ms: number, signal: AbortSignal) {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });
}
