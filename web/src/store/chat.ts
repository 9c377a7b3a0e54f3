// The chat state of one signed-in tab, fed by one Subscribe stream for all rooms.
//
// Each attempt to connect lists the joined rooms and pending invitations, then opens the stream with a
// cursor per room (the last seq this tab knows of) and follow_joins, so after a dropped connection it
// resumes exactly where it stopped: every entry after the cursor is replayed, then it goes on live. What a
// failure leads to depends on its reason (see recovery.ts): an ended session signs out; an expired token
// is refreshed, or a room that is gone listed again, and the stream reopened at once; anything else is
// retried with backoff (see retry.ts), the first attempt as much as later ones, and the connection state
// says when the next try is. Entries are kept per room in a map by seq, so an entry seen twice (a page
// loaded while the stream delivered it) is stored once. Edits, deletions and reactions are entries too; each
// is also applied to the message it acts on, if this tab holds it (see actions.ts). Typing indicators come
// on the same stream and lapse at their expiry. Read state is the server's: each room's unread and
// mention counts and read marker come with the room list, live messages after that are counted here, and
// reading a room moves the marker on the server (MarkRead), whose `read_marker` events keep the user's other
// tabs and devices in step. React reads the state through useSyncExternalStore; changes are coalesced into
// one new snapshot per task.

import { timestampMs } from "@bufbuild/protobuf/wkt";
import { messages, presence as presenceApi, rooms as roomsApi } from "../api/client";
import { describeError, ErrorReason, hasReason } from "../api/errors";
import { endSessionAfter, renewAccessToken, type SessionUser } from "../api/session";
import { MessageKind, RoomRemovedReason, type Message, type SubscribeResponse, type Typing } from "../gen/chat/v1/messages_pb";
import { PresenceStatus } from "../gen/chat/v1/presence_pb";
import { ListRoomsScope, type Member, type Room } from "../gen/chat/v1/rooms_pb";
import { applyAction, isAction, isMembership } from "./actions";
import { LocalMemory } from "./local";
import { People } from "./people";
import type { Connection, Invitation, Jump, RoomState, Snapshot } from "./types";
import { afterStreamFailure, type Recovery } from "./recovery";
import { Backoff } from "./retry";

export type { Connection, Invitation, Jump, Person, Phase, RoomState, Snapshot, Typist } from "./types";

const PAGE = 50;
/** How long reading waits before it tells the server (the newest marker of that time goes). */
const MARK_MS = 300;
/** Pages read when jumping to an older message (a reply's target). */
const JUMP_PAGE = 200;
/** How long a typing indicator lasts when the event gives no expiry. */
const TYPING_MS = 6000;

export class ChatStore {
  private rooms = new Map<string, RoomState>();
  private invitations = new Map<string, Invitation>();
  private people = new People();
  private connection: Connection = { phase: "connecting", retryAt: null, error: null };
  private activeId: string | null = null;
  private jump: Jump | null = null;
  /** Rooms whose counts are being read again from the server. */
  private recounting = new Set<string>();
  /** Rooms with a MarkRead about to be sent. */
  private marking = new Map<string, ReturnType<typeof setTimeout>>();
  private away = false;
  private notice: string | null = null;
  private live = false;
  private visible = document.visibilityState !== "hidden";
  private restored = false;
  private presenceRefresh: ReturnType<typeof setTimeout> | null = null;
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  private snapshot: Snapshot;
  private flush: ReturnType<typeof setTimeout> | null = null;
  private listeners = new Set<() => void>();
  private abort = new AbortController();
  private backoff = new Backoff();
  private memory: LocalMemory;
  private self: SessionUser;

  constructor(self: SessionUser) {
    this.self = self;
    this.memory = new LocalMemory(self.id);
    this.people.names.set(self.id, { username: self.username, displayName: self.displayName || self.username });
    this.snapshot = this.makeSnapshot();
  }

  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = () => this.snapshot;

  private changed() {
    this.flush ??= setTimeout(() => {
      this.flush = null;
      this.snapshot = this.makeSnapshot();
      this.listeners.forEach((l) => l());
    }, 0);
  }

  private makeSnapshot(): Snapshot {
    const rooms = [...this.rooms.values()].sort((a, b) =>
      roomTitle(a.room, this.self.id).localeCompare(roomTitle(b.room, this.self.id)),
    );
    return {
      rooms,
      invitations: [...this.invitations.values()],
      presence: new Map(this.people.status),
      people: new Map(this.people.names),
      connection: this.connection,
      activeId: this.activeId,
      away: this.away,
      notice: this.notice,
      unreadTotal: rooms.reduce((n, r) => n + r.unread, 0),
      jump: this.jump,
    };
  }

  /** Connects, and keeps connecting until stop(). */
  start() {
    window.addEventListener("online", this.retryNow);
    void this.run();
  }

  stop() {
    window.removeEventListener("online", this.retryNow);
    this.abort.abort();
    if (this.flush) clearTimeout(this.flush);
    if (this.presenceRefresh) clearTimeout(this.presenceRefresh);
    if (this.typingTimer) clearTimeout(this.typingTimer);
    for (const timer of this.marking.values()) clearTimeout(timer);
  }

  /** Ends the wait before the next attempt to connect. */
  retryNow = () => {
    this.backoff.now();
  };

  private async run() {
    const signal = this.abort.signal;
    let everLive = false;
    // Whether the last failure was followed by an attempt at once: the next one waits, whatever it was.
    let hurried = false;
    while (!signal.aborted) {
      let failure: unknown = null;
      try {
        await this.loadLists();
        if (!this.restored) {
          this.restored = true;
          const last = this.memory.lastRoom();
          if (last && this.rooms.has(last)) void this.open(last).catch((e) => console.warn("reopening:", e));
        }
        const cursors = [...this.rooms.values()].map((r) => ({ roomId: r.room.id, afterSeq: BigInt(r.latest) }));
        for await (const response of messages.subscribe({ rooms: cursors, followJoins: true }, { signal })) {
          if (response.event.case === "ready") {
            everLive = true;
            hurried = false;
            this.backoff.reset();
          }
          this.handle(response.event);
        }
        // The server ended the stream without an error: reconnect after the backoff.
      } catch (e) {
        if (signal.aborted) return;
        failure = e;
        console.warn("connection failed:", describeError(e));
      }
      this.live = false;
      const phase = everLive ? "reconnecting" : "connecting";
      const recovery: Recovery = failure !== null ? afterStreamFailure(failure) : { action: "backoff", minWaitMs: 0 };
      if (recovery.action === "sign-out") {
        endSessionAfter(failure);
        return;
      }
      if (recovery.action !== "backoff" && !hurried) {
        hurried = true;
        this.connection = { phase, retryAt: null, error: null };
        this.changed();
        if (recovery.action === "relist") continue; // every attempt lists the rooms first
        try {
          await renewAccessToken();
          continue;
        } catch (e) {
          // A refused refresh has ended the session, and so this store; other failures wait their turn.
          failure = e;
        }
      }
      hurried = false;
      const wait = Math.max(this.backoff.next(), recovery.action === "backoff" ? recovery.minWaitMs : 0);
      this.connection = { phase, retryAt: Date.now() + wait, error: failure ? describeError(failure) : null };
      this.changed();
      await this.backoff.sleep(wait, signal);
      this.connection = { ...this.connection, retryAt: null };
      this.changed();
    }
  }

  /** The joined rooms and pending invitations, as the server has them now. */
  private async loadLists() {
    const [joined, invited] = await Promise.all([listAll(ListRoomsScope.JOINED), listAll(ListRoomsScope.INVITED)]);
    const keep = new Set(joined.map((r) => r.id));
    for (const id of [...this.rooms.keys()]) if (!keep.has(id)) this.dropRoom(id);
    for (const room of joined) this.upsertRoom(room);
    this.invitations.clear();
    for (const room of invited) {
      if (!keep.has(room.id)) this.invitations.set(room.id, { room, inviter: this.memory.inviter(room.id) });
    }
    this.changed();
  }

  /**
   * Adds or updates a room. A room new to this tab starts where the user last read it in this browser, so
   * that the stream replays (up to UNREAD_REPLAY) what arrived since and counts it as unread; `afterSeq`
   * (a room the stream just added) or a room never seen here starts at its newest entry.
   */
  private upsertRoom(room: Room, afterSeq?: number) {
    if (room.directPeer) this.people.learn(room.directPeer);
    this.invitations.delete(room.id);
    const existing = this.rooms.get(room.id);
    if (existing) {
      // Keep its cursor: the stream replays anything newer (and counts only what the server did not).
      existing.room = room;
      this.takeCounts(existing, room);
      return;
    }
    const last = Number(room.lastSeq);
    this.rooms.set(room.id, {
      room,
      entries: new Map(),
      version: 0,
      loaded: false,
      hasOlder: true,
      latest: afterSeq ?? last,
      seen: Number(room.lastReadSeq),
      unread: Number(room.unreadCount),
      mentions: Number(room.mentionCount),
      unreadMore: false,
      countedTo: last,
      dividerAfter: null,
      membership: 0,
      members: null,
      quoted: new Map(),
      asOf: new Map(),
      typing: new Map(),
    });
  }

  /** Takes the server's read state of a room, unless the user is reading it (then it is read). */
  private takeCounts(state: RoomState, room: Room) {
    const last = Number(room.lastSeq);
    if (last < state.countedTo) return; // older than what is counted already
    state.countedTo = last;
    if (this.isReading(room.id)) {
      this.markSeen(state);
      return;
    }
    state.seen = Math.max(state.seen, Number(room.lastReadSeq));
    state.unread = Number(room.unreadCount);
    state.mentions = Number(room.mentionCount);
  }

  /** Reads a room's counts again (after an edit or deletion that may change them, or a marker short of the end). */
  private recount(roomId: string) {
    if (this.recounting.has(roomId)) return;
    this.recounting.add(roomId);
    void roomsApi
      .getRoom({ roomId })
      .then(({ room }) => {
        const state = this.rooms.get(roomId);
        if (room && state) {
          this.takeCounts(state, room);
          this.changed();
        }
      })
      .catch((e) => console.warn("read state:", describeError(e)))
      .finally(() => this.recounting.delete(roomId));
  }

  private dropRoom(roomId: string) {
    this.rooms.delete(roomId);
    this.memory.forgetRoom(roomId);
    if (this.activeId === roomId) {
      this.activeId = null;
      this.memory.setLastRoom(null);
    }
  }

  private handle(event: SubscribeResponse["event"]) {
    switch (event.case) {
      case "ready":
        this.live = true;
        this.connection = { phase: "live", retryAt: null, error: null };
        if (this.away) void this.sendPresence(PresenceStatus.AWAY);
        // Presence changes missed while disconnected are not replayed: ask for the current state.
        void this.refreshPresence();
        break;
      case "message":
        this.addEntry(event.value, true);
        break;
      case "presenceChanged":
        if (event.value.presence) this.people.event(event.value.presence);
        break;
      case "roomAdded":
        if (event.value.room) this.upsertRoom(event.value.room, Number(event.value.afterSeq));
        this.schedulePresenceRefresh();
        break;
      case "roomRemoved": {
        const removed = this.rooms.get(event.value.roomId);
        if (removed && event.value.reason === RoomRemovedReason.REMOVED) {
          this.notice = `You were removed from ${roomTitle(removed.room, this.self.id)}.`;
        } else if (removed && event.value.reason === RoomRemovedReason.DELETED) {
          this.notice = `${roomTitle(removed.room, this.self.id)} was deleted by the server's operator.`;
        }
        this.dropRoom(event.value.roomId);
        break;
      }
      case "invitationReceived":
        if (event.value.room && !this.rooms.has(event.value.room.id)) {
          const { room, inviterUsername } = event.value;
          this.invitations.set(room.id, { room, inviter: inviterUsername });
          this.memory.setInviter(room.id, inviterUsername);
        }
        break;
      case "invitationEnded":
        this.forgetInvitation(event.value.roomId);
        break;
      case "typing":
        this.typingEvent(event.value);
        break;
      case "readMarker": {
        const state = this.rooms.get(event.value.roomId);
        if (!state) break;
        const marker = Number(event.value.lastReadSeq);
        if (marker <= state.seen) break;
        state.seen = marker;
        if (marker >= state.latest) {
          state.unread = 0;
          state.mentions = 0;
        } else this.recount(state.room.id);
        break;
      }
      case "readReceipt":
        break; // receipts are for member lists, which read last_read_seq when they load
      default:
        return; // heartbeats change nothing
    }
    this.changed();
  }

  /**
   * Keeps an entry (when the room's newest page is loaded) and applies an action to its target. `asOf` is
   * the seq up to which a text message from a page is already current (see actions.ts); a live one is
   * current as of its own seq.
   */
  private addEntry(m: Message, live: boolean, asOf?: number) {
    const state = this.rooms.get(m.roomId);
    if (!state) return;
    const seq = Number(m.seq);
    if (live && seq > state.latest) {
      state.latest = seq;
      state.room.lastSeq = BigInt(seq);
      if (isMembership(m)) state.membership += 1;
      // A message ends its sender's typing indicator.
      if (m.kind === MessageKind.TEXT) this.stopTyping(state, m.senderId);
      // Someone new shares a room: their presence came before they did.
      if (m.kind === MessageKind.MEMBER_JOINED && m.senderId !== this.self.id) this.schedulePresenceRefresh();
      if (this.isReading(m.roomId)) this.markSeen(state);
      else if (m.kind === MessageKind.TEXT && m.senderId === this.self.id) {
        // Sending marks the room read (the server moved the marker with the send).
        state.seen = Math.max(state.seen, seq);
        state.unread = 0;
        state.mentions = 0;
      } else if (seq > state.countedTo && seq > state.seen && m.kind === MessageKind.TEXT) {
        state.unread += 1;
        if (m.mentions.includes(this.self.id)) state.mentions += 1;
      } else if (isAction(m) && Number(m.targetSeq) > state.seen && state.unread > 0) {
        // An unread message edited (a mention added or taken out) or deleted: the server counts it again.
        if (m.kind === MessageKind.EDIT || m.kind === MessageKind.DELETE) this.recount(state.room.id);
      }
    }
    if (isAction(m)) this.applyToTarget(state, m);
    // Kept only when it continues what is loaded (older gaps are filled by paging).
    if (state.loaded) {
      const current = asOf ?? seq;
      // A copy of a message held already replaces it only if it is more current.
      if (m.kind === MessageKind.TEXT && (state.asOf.get(seq) ?? -1) >= current && state.entries.has(seq)) return;
      state.entries.set(seq, m);
      if (m.kind === MessageKind.TEXT) state.asOf.set(seq, current);
      state.version += 1;
    }
  }

  /** Applies an action to the message it targets, wherever this tab holds it and it is not newer already. */
  private applyToTarget(state: RoomState, action: Message) {
    const seq = Number(action.seq);
    const target = Number(action.targetSeq);
    if (seq <= (state.asOf.get(target) ?? Infinity)) return;
    state.asOf.set(target, seq);
    const held = state.entries.get(target);
    if (held) state.entries.set(target, applyAction(held, action, this.self.id));
    const quoted = state.quoted.get(target);
    if (quoted) state.quoted.set(target, applyAction(quoted, action, this.self.id));
    state.version += 1;
  }

  private isReading(roomId: string) {
    return this.activeId === roomId && this.visible;
  }

  /** The user is reading the room: everything held is read, here and (MarkRead) everywhere else. */
  private markSeen(state: RoomState) {
    const was = state.seen;
    state.seen = Math.max(state.seen, state.latest);
    state.unread = 0;
    state.mentions = 0;
    state.unreadMore = false;
    if (state.seen > was && state.seen > 0 && !this.marking.has(state.room.id)) {
      // At most one MarkRead per room every MARK_MS while messages stream in: it sends the newest then.
      const roomId = state.room.id;
      this.marking.set(
        roomId,
        setTimeout(() => {
          this.marking.delete(roomId);
          const seq = this.rooms.get(roomId)?.seen;
          if (!seq) return;
          void messages.markRead({ roomId, seq: BigInt(seq) }).catch((e) => console.warn("marking read:", describeError(e)));
        }, MARK_MS),
      );
    }
  }

  /** The tab was hidden or shown: a shown tab reads its open room. */
  setVisible(visible: boolean) {
    this.visible = visible;
    const state = this.activeId ? this.rooms.get(this.activeId) : undefined;
    if (visible && state) this.markSeen(state);
    this.changed();
  }

  /** Opens a room (null: none): marks it read and loads its newest page the first time. */
  async open(roomId: string | null) {
    this.activeId = roomId;
    this.memory.setLastRoom(roomId);
    const state = roomId ? this.rooms.get(roomId) : undefined;
    // The divider sits where the unread messages start, for as long as the room stays open.
    if (state) state.dividerAfter = state.unread > 0 ? state.seen : null;
    if (state && this.visible) this.markSeen(state);
    this.changed();
    if (state && !state.loaded) await this.loadNewest(state);
  }

  /** Opens a message's room and asks its timeline to show the message in context (see Timeline). */
  async show(roomId: string, seq: bigint) {
    await this.open(roomId);
    this.jump = { roomId, seq };
    this.changed();
  }

  /** The timeline has taken the jump. */
  jumped() {
    this.jump = null;
    this.changed();
  }

  /** One page of search results, newest first: in every room of the user's, or in one. */
  search(query: string, roomId = "", pageToken = "") {
    return messages.searchMessages({ query, roomId, pageSize: 20, pageToken });
  }

  private async loadNewest(state: RoomState) {
    const page = await messages.listMessages({ roomId: state.room.id, limit: PAGE });
    state.loaded = true;
    state.hasOlder = page.hasMore;
    // The page's messages are current as of its newest entry; later actions apply on top.
    const asOf = (p: Message[]) => (p.length ? Number(p[p.length - 1].seq) : state.latest);
    const first = asOf(page.messages);
    for (const m of page.messages) this.addEntry(m, false, first);
    // Entries the stream delivered while the page was on its way were not kept: read them.
    let newest = page.messages.length ? Number(page.messages[page.messages.length - 1].seq) : 0;
    while (newest < state.latest) {
      const next = await messages.listMessages({ roomId: state.room.id, afterSeq: BigInt(newest), limit: 200 });
      const current = asOf(next.messages);
      for (const m of next.messages) this.addEntry(m, false, current);
      if (!next.messages.length) break;
      newest = Number(next.messages[next.messages.length - 1].seq);
    }
    this.changed();
  }

  private loadingOlder = new Map<string, Promise<boolean>>();

  /**
   * Loads the page before the oldest loaded entry (and more while a page holds only actions, which show
   * nothing); false when there is none. While one is on its way, answers that one.
   */
  loadOlder(roomId: string, limit = PAGE): Promise<boolean> {
    const pending = this.loadingOlder.get(roomId);
    if (pending) return pending;
    const state = this.rooms.get(roomId);
    if (!state || !state.loaded || !state.hasOlder) return Promise.resolve(false);
    const load = this.readOlder(state, limit).finally(() => this.loadingOlder.delete(roomId));
    this.loadingOlder.set(roomId, load);
    return load;
  }

  private async readOlder(state: RoomState, limit: number): Promise<boolean> {
    for (;;) {
      const oldest = Math.min(...state.entries.keys());
      if (!Number.isFinite(oldest) || oldest <= 1) {
        state.hasOlder = false;
        this.changed();
        return false;
      }
      const page = await messages.listMessages({ roomId: state.room.id, beforeSeq: BigInt(oldest), limit });
      // Older messages come in their current state: every action this tab has seen is in them already.
      for (const m of page.messages) this.addEntry(m, false, state.latest);
      state.hasOlder = page.hasMore;
      this.changed();
      if (!page.hasMore || page.messages.some((m) => !isAction(m))) return page.messages.length > 0;
    }
  }

  /** Loads older pages until the entry `seq` is loaded; false when it cannot be. */
  async loadBack(roomId: string, seq: number): Promise<boolean> {
    for (;;) {
      const state = this.rooms.get(roomId);
      if (!state || !state.loaded) return false;
      if (state.entries.has(seq)) return true;
      if (!state.hasOlder || !(await this.loadOlder(roomId, JUMP_PAGE))) return state.entries.has(seq);
    }
  }

  private quoting = new Set<string>();

  /**
   * Reads a message that is not loaded (a reply's target) with GetMessage, once, into the room's `quoted`;
   * null there when it cannot be read.
   */
  async fetchQuoted(roomId: string, seq: number) {
    const state = this.rooms.get(roomId);
    const key = `${roomId}/${seq}`;
    if (!state || state.entries.has(seq) || state.quoted.has(seq) || this.quoting.has(key)) return;
    this.quoting.add(key);
    try {
      const { message } = await messages.getMessage({ roomId, seq: BigInt(seq) });
      if (!state.asOf.has(seq)) state.asOf.set(seq, state.latest);
      state.quoted.set(seq, message ?? null);
    } catch (e) {
      console.warn("quoted message:", describeError(e));
      state.quoted.set(seq, null);
    } finally {
      this.quoting.delete(key);
    }
    state.version += 1;
    this.changed();
  }

  private typingEvent(t: Typing) {
    const state = this.rooms.get(t.roomId);
    if (!state || t.userId === this.self.id) return;
    if (!t.typing) {
      this.stopTyping(state, t.userId);
      return;
    }
    const expiresAt = t.expiresAt ? timestampMs(t.expiresAt) : Date.now() + TYPING_MS;
    state.typing = new Map(state.typing).set(t.userId, { userId: t.userId, username: t.username, expiresAt });
    this.scheduleTypingExpiry();
  }

  private stopTyping(state: RoomState, userId: string) {
    if (!state.typing.has(userId)) return;
    const typing = new Map(state.typing);
    typing.delete(userId);
    state.typing = typing;
  }

  /** Removes indicators at their expiry (by this browser's clock). */
  private scheduleTypingExpiry() {
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.typingTimer = null;
    const now = Date.now();
    let next = Infinity;
    for (const state of this.rooms.values()) {
      for (const t of state.typing.values()) {
        if (t.expiresAt <= now) this.stopTyping(state, t.userId);
        else next = Math.min(next, t.expiresAt);
      }
    }
    if (Number.isFinite(next)) {
      this.typingTimer = setTimeout(() => {
        this.scheduleTypingExpiry();
        this.changed();
      }, next - now + 20);
    }
  }

  /** Loads (again) a room's members: they name senders and decide what the user may do. */
  async loadMembers(roomId: string) {
    const mark = this.people.mark();
    const all: Member[] = [];
    let pageToken = "";
    do {
      const page = await roomsApi.listMembers({ roomId, pageSize: 200, pageToken });
      all.push(...page.members);
      pageToken = page.nextPageToken;
    } while (pageToken);
    for (const m of all) if (m.user) this.people.learn(m.user);
    this.people.apply(
      mark,
      all.flatMap((m) => (m.user ? [[m.user.id, m.presence] as const] : [])),
    );
    const state = this.rooms.get(roomId);
    if (state) state.members = all;
    this.changed();
  }

  /** Adds a room the caller just created, joined or opened as a direct conversation. */
  addRoom(room: Room) {
    this.upsertRoom(room);
    this.schedulePresenceRefresh();
    this.changed();
  }

  async join(roomId: string) {
    let room: Room | undefined;
    try {
      ({ room } = await roomsApi.joinRoom({ roomId }));
    } catch (e) {
      // The room was deleted, or (a private one) the invitation withdrawn: the invitation is gone too.
      if (hasReason(e, ErrorReason.ROOM_NOT_FOUND) && this.invitations.has(roomId)) {
        this.forgetInvitation(roomId);
        this.changed();
      }
      throw e;
    }
    this.forgetInvitation(roomId);
    if (room) this.addRoom(room);
    await this.open(roomId);
  }

  /** Declines an invitation on the server, so that it ends on every device. */
  async declineInvitation(roomId: string) {
    try {
      await roomsApi.declineInvitation({ roomId });
    } catch (e) {
      // Already ended (declined on another device, or withdrawn) or the room deleted: gone either way.
      if (!hasReason(e, ErrorReason.INVITATION_NOT_FOUND, ErrorReason.ROOM_NOT_FOUND)) throw e;
    }
    this.forgetInvitation(roomId);
    this.changed();
  }

  private forgetInvitation(roomId: string) {
    this.invitations.delete(roomId);
    this.memory.setInviter(roomId, null);
  }

  dismissNotice() {
    this.notice = null;
    this.changed();
  }

  /** Shows the user as away (or back). Applied again after every reconnection. */
  setAway(away: boolean) {
    if (this.away === away) return;
    this.away = away;
    this.changed();
    if (this.live) void this.sendPresence(away ? PresenceStatus.AWAY : PresenceStatus.ONLINE);
  }

  private async sendPresence(status: PresenceStatus) {
    try {
      await presenceApi.setPresence({ status });
    } catch (e) {
      // NOT_CONNECTED: no stream is open right now; the next `ready` applies the wish.
      if (!hasReason(e, ErrorReason.NOT_CONNECTED)) console.warn("presence:", describeError(e));
    }
  }

  private schedulePresenceRefresh() {
    if (this.presenceRefresh) clearTimeout(this.presenceRefresh);
    this.presenceRefresh = setTimeout(() => {
      this.presenceRefresh = null;
      if (this.live) void this.refreshPresence();
    }, 250);
  }

  /** Everyone online or away among those who share a room with the user; the others are offline. */
  private async refreshPresence() {
    const mark = this.people.mark();
    try {
      const { users } = await presenceApi.listOnlineUsers({ roomId: "" });
      this.people.applyOnline(mark, users);
      this.changed();
    } catch (e) {
      console.warn("presence:", describeError(e));
    }
  }
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
    const page = await roomsApi.listRooms({ scope, pageSize: 200, pageToken });
    all.push(...page.rooms);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return all;
}
