// The signed-in screen: the connection banner across the top, rooms and invitations on the left, the open
// room in the middle (its members in a side panel). On a narrow screen the room list and the room take
// turns, and the banner stays on top of both.

import { useCallback, useEffect, useMemo, useState, useSyncExternalStore } from "react";
import { describeError } from "../api/errors";
import type { SessionUser } from "../api/session";
import { ChatContext, type ChatContextValue } from "../hooks/useChat";
import { usePageVisibility } from "../hooks/usePageVisibility";
import { ChatStore } from "../store/chat";
import { ConnectionBanner } from "./ConnectionBanner";
import { Dialogs, type DialogName } from "./dialogs/Dialogs";
import { RoomView } from "./RoomView";
import { Sidebar } from "./Sidebar";

export function Chat({ user }: { user: SessionUser }) {
  const [store] = useState(() => new ChatStore(user));
  const snap = useSyncExternalStore(store.subscribe, store.getSnapshot);
  const [dialog, setDialog] = useState<DialogName | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    store.start();
    return () => store.stop();
  }, [store]);
  usePageVisibility(store);

  useEffect(() => {
    document.title = snap.unreadTotal > 0 ? `(${snap.unreadTotal}) Parley` : "Parley";
  }, [snap.unreadTotal]);
  useEffect(() => () => void (document.title = "Parley"), []);

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

  const context: ChatContextValue = useMemo(() => ({ store, snap, user, act }), [store, snap, user, act]);
  const active = snap.rooms.find((r) => r.room.id === snap.activeId) ?? null;

  return (
    <ChatContext.Provider value={context}>
      <div className={`chat ${active ? "has-room" : ""}`}>
        <ConnectionBanner />
        <div className="chat-body">
          <Sidebar onDialog={setDialog} />
          <main className="room" aria-label="Conversation">
            {error && (
              <div className="banner error" role="alert">
                <span>{error}</span>
                <button className="link" onClick={() => setError(null)} aria-label="Dismiss error">
                  ✕
                </button>
              </div>
            )}
            {snap.notice && (
              <div className="banner notice" role="status">
                <span>{snap.notice}</span>
                <button className="link" onClick={() => store.dismissNotice()} aria-label="Dismiss notice">
                  ✕
                </button>
              </div>
            )}
            {active ? (
              <RoomView key={active.room.id} state={active} />
            ) : (
              <div className="empty">
                <p>Pick a room on the left, or start one.</p>
              </div>
            )}
          </main>
        </div>
        {dialog && <Dialogs name={dialog} onClose={() => setDialog(null)} />}
      </div>
    </ChatContext.Provider>
  );
}
