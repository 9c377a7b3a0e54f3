// The signed-in screen: rooms and invitations on the left, the open room in the middle, its members on the
// right. On a narrow screen the room list and the room take turns.

import {
  useCallback,
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
  useSyncExternalStore,
  type FormEvent,
  type ReactNode,
} from "react";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { auth, messages, rooms as roomsApi } from "./api/client";
import { describeError, isTransient } from "./api/errors";
import { endSession, getSession, type SessionUser } from "./api/session";
import { MessageKind, type Message } from "./gen/chat/v1/messages_pb";
import { PresenceStatus } from "./gen/chat/v1/presence_pb";
import { ListRoomsScope, Role, RoomKind, Visibility, type Member, type Room } from "./gen/chat/v1/rooms_pb";
import { ChatStore, roomTitle, type RoomState, type Snapshot } from "./store";

type Dialog = "create" | "directory" | "direct" | null;

export function Chat({ user }: { user: SessionUser }) {
  const [store] = useState(() => new ChatStore(user.id));
  const snap = useSyncExternalStore(store.subscribe, store.getSnapshot);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    store.start().catch((e) => setError(describeError(e)));
    return () => store.stop();
  }, [store]);

  const act = useCallback(async (what: () => Promise<unknown>) => {
    setError(null);
    try {
      await what();
      return true;
    } catch (e) {
      setError(describeError(e));
      return false;
    }
  }, []);

  const active = snap.rooms.find((r) => r.room.id === snap.activeId) ?? null;
  const openRoom = (id: string | null) => act(() => store.open(id));

  return (
    <div className={`chat ${active ? "has-room" : ""}`}>
      <aside className="sidebar" aria-label="Rooms">
        <header className="me">
          <div>
            <strong>{user.displayName || user.username}</strong>
            <span className={`conn ${snap.connection}`} data-testid="connection">
              {snap.connection === "live" ? "connected" : snap.connection === "connecting" ? "connecting…" : "reconnecting…"}
            </span>
          </div>
          <button className="link" onClick={() => signOut()}>
            Sign out
          </button>
        </header>
        <div className="actions">
          <button onClick={() => setDialog("create")}>New room</button>
          <button onClick={() => setDialog("directory")}>Browse</button>
          <button onClick={() => setDialog("direct")}>Message…</button>
        </div>
        {snap.invitations.length > 0 && (
          <section aria-label="Invitations">
            <h2>Invitations</h2>
            <ul className="list">
              {snap.invitations.map((inv) => (
                <li key={inv.room.id} className="invitation" data-testid="invitation">
                  <span>
                    <strong>{inv.room.name}</strong>
                    {inv.inviter && <small> from {inv.inviter}</small>}
                  </span>
                  <span className="row">
                    <button
                      className="primary small"
                      onClick={() =>
                        act(async () => {
                          const { room } = await roomsApi.joinRoom({ roomId: inv.room.id });
                          if (room) store.addRoom(room);
                          await store.open(inv.room.id);
                        })
                      }
                    >
                      Join
                    </button>
                    <button className="small" onClick={() => store.dropInvitation(inv.room.id)} aria-label={`Dismiss ${inv.room.name}`}>
                      ✕
                    </button>
                  </span>
                </li>
              ))}
            </ul>
          </section>
        )}
        <RoomList title="Rooms" rooms={snap.rooms.filter((r) => r.room.kind !== RoomKind.DIRECT)} snap={snap} user={user} onOpen={openRoom} />
        <RoomList title="Direct" rooms={snap.rooms.filter((r) => r.room.kind === RoomKind.DIRECT)} snap={snap} user={user} onOpen={openRoom} />
      </aside>

      <main className="room" aria-label="Conversation">
        {error && (
          <div className="banner error" role="alert">
            <span>{error}</span>
            <button className="link" onClick={() => setError(null)} aria-label="Dismiss error">
              ✕
            </button>
          </div>
        )}
        {active ? (
          <RoomView key={active.room.id} state={active} store={store} snap={snap} user={user} act={act} onBack={() => openRoom(null)} />
        ) : (
          <div className="empty">
            <p>Pick a room on the left, or start one.</p>
          </div>
        )}
      </main>

      {dialog && (
        <Modal title={{ create: "New room", directory: "Public rooms", direct: "Direct message" }[dialog]} onClose={() => setDialog(null)}>
          {dialog === "create" && (
            <CreateRoom
              onDone={async (room) => {
                store.addRoom(room);
                setDialog(null);
                await openRoom(room.id);
              }}
            />
          )}
          {dialog === "directory" && (
            <Directory
              joined={new Set(snap.rooms.map((r) => r.room.id))}
              onJoin={async (room) => {
                store.addRoom(room);
                setDialog(null);
                await openRoom(room.id);
              }}
            />
          )}
          {dialog === "direct" && (
            <DirectMessage
              onDone={async (room) => {
                store.addRoom(room);
                setDialog(null);
                await openRoom(room.id);
              }}
            />
          )}
        </Modal>
      )}
    </div>
  );
}

async function signOut() {
  const session = getSession();
  try {
    if (session) await auth.logout({ refreshToken: session.refreshToken, allSessions: false });
  } catch {
    // Signed out locally either way; the server forgets the session when its token expires.
  }
  endSession();
}

function RoomList(props: { title: string; rooms: RoomState[]; snap: Snapshot; user: SessionUser; onOpen: (id: string) => void }) {
  if (!props.rooms.length) return null;
  return (
    <nav aria-label={props.title}>
      <h2>{props.title}</h2>
      <ul className="list">
        {props.rooms.map((r) => {
          const peer = r.room.directPeer;
          return (
            <li key={r.room.id}>
              <button
                className={`room-item ${props.snap.activeId === r.room.id ? "active" : ""}`}
                aria-current={props.snap.activeId === r.room.id ? "page" : undefined}
                data-testid="room-item"
                onClick={() => props.onOpen(r.room.id)}
              >
                {peer ? (
                  <Dot status={props.snap.presence.get(peer.id)} />
                ) : (
                  <span className="hash" aria-label={r.room.visibility === Visibility.PRIVATE ? "private" : "public"}>
                    {r.room.visibility === Visibility.PRIVATE ? <LockIcon /> : "#"}
                  </span>
                )}
                <span className="name">{roomTitle(r.room, props.user.id)}</span>
                {r.unread > 0 && (
                  <span className="badge" data-testid="unread" aria-label={`${r.unread} unread`}>
                    {r.unread}
                  </span>
                )}
              </button>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

function RoomView(props: {
  state: RoomState;
  store: ChatStore;
  snap: Snapshot;
  user: SessionUser;
  act: (what: () => Promise<unknown>) => Promise<boolean>;
  onBack: () => void;
}) {
  const { state, store, snap, user, act } = props;
  const room = state.room;
  const [members, setMembers] = useState<Member[]>([]);
  const [showMembers, setShowMembers] = useState(false);
  const [inviting, setInviting] = useState(false);
  const entries = [...state.entries.values()].sort((a, b) => Number(a.seq - b.seq));
  const memberEvents = entries.filter((m) => m.kind !== MessageKind.TEXT).length;

  // Members, again whenever someone joins, leaves or changes role.
  useEffect(() => {
    let stale = false;
    (async () => {
      const all: Member[] = [];
      let pageToken = "";
      do {
        const page = await roomsApi.listMembers({ roomId: room.id, pageSize: 200, pageToken });
        all.push(...page.members);
        pageToken = page.nextPageToken;
      } while (pageToken && !stale);
      if (!stale) setMembers(all);
    })().catch(() => {});
    return () => {
      stale = true;
    };
  }, [room.id, memberEvents]);

  const status = (m: Member) => snap.presence.get(m.user?.id ?? "") ?? m.presence;
  const canInvite = room.kind !== RoomKind.DIRECT && (room.callerRole === Role.OWNER || room.callerRole === Role.ADMIN || room.visibility === Visibility.PUBLIC);

  return (
    <div className={`room-view ${showMembers ? "with-members" : ""}`}>
      <header className="room-header">
        <button className="back" onClick={props.onBack} aria-label="Back to rooms">
          ‹
        </button>
        <div className="title">
          <h1 data-testid="room-title">{roomTitle(room, user.id)}</h1>
          {room.topic && <p>{room.topic}</p>}
        </div>
        <div className="row">
          {canInvite && (
            <button onClick={() => setInviting((v) => !v)} aria-expanded={inviting}>
              Invite
            </button>
          )}
          <button onClick={() => setShowMembers((v) => !v)} aria-expanded={showMembers} data-testid="members-toggle">
            Members {members.length ? `(${members.length})` : ""}
          </button>
          {room.kind !== RoomKind.DIRECT && (
            <button
              className="danger"
              onClick={() => {
                if (window.confirm(`Leave ${room.name}?`)) void act(() => roomsApi.leaveRoom({ roomId: room.id }));
              }}
            >
              Leave
            </button>
          )}
        </div>
      </header>
      {inviting && (
        <InviteForm
          onInvite={async (username) => {
            const ok = await act(() => roomsApi.inviteMember({ roomId: room.id, username }));
            if (ok) setInviting(false);
          }}
        />
      )}
      <div className="room-body">
        <Timeline state={state} entries={entries} store={store} user={user} />
        {showMembers && (
          <aside className="members" aria-label="Members">
            <h2>Members</h2>
            <ul className="list">
              {members.map((m) => (
                <li key={m.user?.id} data-testid="member" data-username={m.user?.username} data-presence={presenceName(status(m))}>
                  <Dot status={status(m)} />
                  <span className="name">{m.user?.displayName || m.user?.username}</span>
                  {m.role === Role.OWNER && <small>owner</small>}
                  {m.role === Role.ADMIN && <small>admin</small>}
                </li>
              ))}
            </ul>
          </aside>
        )}
      </div>
      <Composer roomId={room.id} act={act} />
    </div>
  );
}

function Timeline({ state, entries, store, user }: { state: RoomState; entries: Message[]; store: ChatStore; user: SessionUser }) {
  const scroller = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const loading = useRef(false);
  const keepFrom = useRef<number | null>(null);

  // Stay at the bottom while the reader is there; keep the view still when older entries come in above.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (keepFrom.current !== null) {
      el.scrollTop = el.scrollHeight - keepFrom.current;
      keepFrom.current = null;
    } else if (stick.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [entries.length]);

  const onScroll = async () => {
    const el = scroller.current;
    if (!el) return;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop < 80 && state.hasOlder && state.loaded && !loading.current) {
      loading.current = true;
      keepFrom.current = el.scrollHeight - el.scrollTop;
      try {
        const got = await store.loadOlder(state.room.id);
        if (!got) keepFrom.current = null;
      } finally {
        loading.current = false;
      }
    }
  };

  return (
    <div className="timeline" ref={scroller} onScroll={onScroll} data-testid="timeline" aria-live="polite" tabIndex={0}>
      {state.loaded && !state.hasOlder && <p className="start">This is the start of the conversation.</p>}
      {!state.loaded && <p className="start">Loading…</p>}
      <ol>
        {entries.map((m, i) => {
          const prev = entries[i - 1];
          const grouped = prev && prev.kind === MessageKind.TEXT && m.kind === MessageKind.TEXT && prev.senderId === m.senderId;
          return m.kind === MessageKind.TEXT ? (
            <li key={String(m.seq)} className={`message ${m.senderId === user.id ? "mine" : ""} ${grouped ? "grouped" : ""}`} data-testid="message" data-seq={String(m.seq)}>
              {!grouped && (
                <div className="meta">
                  <strong>{m.senderUsername}</strong>
                  <time>{m.createdAt ? timestampDate(m.createdAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : ""}</time>
                </div>
              )}
              <p className="body">{m.body}</p>
            </li>
          ) : (
            <li key={String(m.seq)} className="event">
              {describeEvent(m)}
            </li>
          );
        })}
      </ol>
    </div>
  );
}

function describeEvent(m: Message): string {
  const who = m.member?.username ?? "someone";
  switch (m.kind) {
    case MessageKind.MEMBER_JOINED:
      return `${who} joined`;
    case MessageKind.MEMBER_LEFT:
      return `${who} left`;
    case MessageKind.MEMBER_INVITED:
      return `${m.senderUsername} invited ${who}`;
    case MessageKind.MEMBER_REMOVED:
      return `${m.senderUsername} removed ${who}`;
    case MessageKind.MEMBER_ROLE_CHANGED:
      return `${who} is now ${m.member?.role === Role.ADMIN ? "an admin" : m.member?.role === Role.OWNER ? "the owner" : "a member"}`;
    default:
      return "";
  }
}

function Composer({ roomId, act }: { roomId: string; act: (what: () => Promise<unknown>) => Promise<boolean> }) {
  const [text, setText] = useState("");
  const [sending, setSending] = useState(false);
  const input = useRef<HTMLTextAreaElement>(null);

  async function send(e?: FormEvent) {
    e?.preventDefault();
    const body = text.trim();
    if (!body || sending) return;
    setSending(true);
    // One id per message: a retry after a lost answer is stored once.
    const clientMessageId = crypto.randomUUID();
    const ok = await act(async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await messages.sendMessage({ roomId, body, clientMessageId });
        } catch (err) {
          if (attempt >= 3 || !isTransient(err)) throw err;
          await new Promise((r) => setTimeout(r, 300 * 2 ** attempt));
        }
      }
    });
    if (ok) setText("");
    setSending(false);
    input.current?.focus();
  }

  return (
    <form className="composer" onSubmit={send}>
      <label className="visually-hidden" htmlFor="composer">
        Message
      </label>
      <textarea
        id="composer"
        ref={input}
        rows={1}
        value={text}
        placeholder="Write a message…"
        title="Enter sends; Shift+Enter starts a new line"
        maxLength={4000}
        autoFocus
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            void send();
          }
        }}
      />
      <button className="primary" type="submit" disabled={sending || !text.trim()}>
        Send
      </button>
    </form>
  );
}

function InviteForm({ onInvite }: { onInvite: (username: string) => Promise<void> }) {
  return (
    <form
      className="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        const username = String(new FormData(e.currentTarget).get("username") ?? "").trim();
        if (username) void onInvite(username);
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

/** A dialog's form: runs `onSubmit` with the form's fields and shows what went wrong, if anything did. */
function DialogForm({
  submit,
  onSubmit,
  children,
}: {
  submit: string;
  onSubmit: (form: FormData) => Promise<void>;
  children: ReactNode;
}) {
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      className="stack"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        try {
          await onSubmit(new FormData(e.currentTarget));
        } catch (err) {
          setError(describeError(err));
        }
      }}
    >
      {children}
      <Alert error={error} />
      <button className="primary" type="submit">
        {submit}
      </button>
    </form>
  );
}

export function Alert({ error }: { error: string | null }) {
  return error ? (
    <p className="error" role="alert">
      {error}
    </p>
  ) : null;
}

function CreateRoom({ onDone }: { onDone: (room: Room) => Promise<void> }) {
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
        <input name="name" required maxLength={64} autoFocus />
      </label>
      <label>
        Topic <span className="optional">(optional)</span>
        <input name="topic" maxLength={256} />
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

function Directory({ joined, onJoin }: { joined: Set<string>; onJoin: (room: Room) => Promise<void> }) {
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
                onClick={async () => {
                  try {
                    const r = await roomsApi.joinRoom({ roomId: room.id });
                    if (r.room) await onJoin(r.room);
                  } catch (e) {
                    setError(describeError(e));
                  }
                }}
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

function DirectMessage({ onDone }: { onDone: (room: Room) => Promise<void> }) {
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

function Modal({ title, onClose, children }: { title: string; onClose: () => void; children: ReactNode }) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  return (
    <div className="overlay" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="card modal" role="dialog" aria-modal="true" aria-label={title}>
        <header>
          <h2>{title}</h2>
          <button className="link" onClick={onClose} aria-label="Close">
            ✕
          </button>
        </header>
        {children}
      </div>
    </div>
  );
}

function presenceName(status: PresenceStatus | undefined): string {
  return status === PresenceStatus.ONLINE ? "online" : status === PresenceStatus.AWAY ? "away" : "offline";
}

function Dot({ status }: { status: PresenceStatus | undefined }) {
  const name = presenceName(status);
  return <span className={`dot ${name}`} role="img" aria-label={name} title={name} />;
}

function LockIcon() {
  return (
    <svg width="11" height="12" viewBox="0 0 11 12" aria-hidden="true">
      <rect x="1" y="5" width="9" height="7" rx="1.5" fill="currentColor" />
      <path d="M3 5V3.5a2.5 2.5 0 0 1 5 0V5" fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
  );
}
