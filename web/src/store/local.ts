// What this browser remembers per user between reloads, in localStorage: where the user last read each room
// ("last seen seq", the interim source of unread badges until the server keeps read state), the room that
// was open, and who sent each pending invitation (ListRooms does not say).
//
// Every read tolerates a missing, foreign or corrupt value: storage is a convenience, never a source of
// truth the app cannot do without.

type SeqMap = Record<string, number>;
type NameMap = Record<string, string>;

function read<T>(key: string, fallback: T): T {
  try {
    const raw = localStorage.getItem(key);
    if (!raw) return fallback;
    const value: unknown = JSON.parse(raw);
    return value && typeof value === "object" ? (value as T) : fallback;
  } catch {
    return fallback;
  }
}

function write(key: string, value: unknown) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Full or disabled storage: the app works on, it only forgets more on reload.
  }
}

export class LocalMemory {
  private readonly seenKey: string;
  private readonly roomKey: string;
  private readonly invitersKey: string;
  private seen: SeqMap;
  private inviters: NameMap;

  constructor(userId: string) {
    this.seenKey = `parley.seen.${userId}`;
    this.roomKey = `parley.room.${userId}`;
    this.invitersKey = `parley.inviters.${userId}`;
    this.seen = read<SeqMap>(this.seenKey, {});
    this.inviters = read<NameMap>(this.invitersKey, {});
  }

  /** The last seq the user has seen in a room, if this browser knows it. */
  seenSeq(roomId: string): number | undefined {
    const v = this.seen[roomId];
    return typeof v === "number" && Number.isFinite(v) ? v : undefined;
  }

  setSeen(roomId: string, seq: number) {
    if (this.seenSeq(roomId) === seq) return;
    // Another tab may have read further: keep the larger.
    this.seen = { ...read<SeqMap>(this.seenKey, {}), ...this.seen };
    this.seen[roomId] = Math.max(seq, this.seen[roomId] ?? 0);
    write(this.seenKey, this.seen);
  }

  forgetRoom(roomId: string) {
    delete this.seen[roomId];
    write(this.seenKey, this.seen);
  }

  lastRoom(): string | null {
    try {
      return localStorage.getItem(this.roomKey);
    } catch {
      return null;
    }
  }

  setLastRoom(roomId: string | null) {
    try {
      if (roomId) localStorage.setItem(this.roomKey, roomId);
      else localStorage.removeItem(this.roomKey);
    } catch {
      // See write().
    }
  }

  inviter(roomId: string): string {
    return this.inviters[roomId] ?? "";
  }

  setInviter(roomId: string, username: string | null) {
    if (username) this.inviters[roomId] = username;
    else delete this.inviters[roomId];
    write(this.invitersKey, this.inviters);
  }
}

/** How long a hidden tab waits before the user is shown as away; `parley.awayAfterMs` overrides it. */
export function awayDelayMs(): number {
  try {
    const v = Number(localStorage.getItem("parley.awayAfterMs"));
    return Number.isFinite(v) && v > 0 ? v : 60_000;
  } catch {
    return 60_000;
  }
}
