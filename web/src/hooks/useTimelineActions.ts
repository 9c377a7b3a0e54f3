// What a message's buttons do, as one object that stays the same between renders (messages are memoised).

import { useMemo } from "react";
import { messages } from "../api/client";
import { withRetries } from "../api/errors";
import type { Message } from "../gen/chat/v1/messages_pb";
import type { ChatStore } from "../store/chat";

export interface TimelineActions {
  selfId: string;
  /** Phone layout: a message's actions fold into one menu. */
  compact: boolean;
  reply: (m: Message) => void;
  /** Opens (or, with null, closes) the inline editor of a message. */
  edit: (seq: bigint | null) => void;
  remove: (m: Message) => void;
  /** Adds the reader's reaction, or takes it back when they have made it. */
  toggleReaction: (m: Message, emoji: string) => void;
  /** Scrolls to a message (loading older pages first if needed) and highlights it briefly. */
  jumpTo: (seq: bigint) => void;
  fetchQuoted: (seq: bigint) => void;
}

interface Options {
  store: ChatStore;
  roomId: string;
  selfId: string;
  compact: boolean;
  act: (what: () => Promise<unknown>) => Promise<boolean>;
  onReply: (m: Message) => void;
  onEdit: (seq: bigint | null) => void;
  jumpTo: (seq: bigint) => Promise<void>;
}

export function useTimelineActions({ store, roomId, selfId, compact, act, onReply, onEdit, jumpTo }: Options): TimelineActions {
  return useMemo(
    () => ({
      selfId,
      compact,
      reply: onReply,
      edit: onEdit,
      remove: (m) => {
        if (!window.confirm("Delete this message? This cannot be undone.")) return;
        void act(() => withRetries(() => messages.deleteMessage({ roomId, seq: m.seq })));
      },
      toggleReaction: (m, emoji) => {
        const mine = m.reactions.some((r) => r.emoji === emoji && r.reactedByCaller);
        const request = { roomId, seq: m.seq, emoji };
        void act(() => withRetries<unknown>(() => (mine ? messages.removeReaction(request) : messages.addReaction(request))));
      },
      jumpTo: (seq) => void act(() => jumpTo(seq)),
      fetchQuoted: (seq) => void store.fetchQuoted(roomId, Number(seq)),
    }),
    [store, roomId, selfId, compact, act, onReply, onEdit, jumpTo],
  );
}
