// The open room's timeline: date separators, messages grouped by sender, membership entries, and older
// pages loading as the reader scrolls up (see useTimelineScroll), and a "new messages" divider where what
// was unread when the room was opened starts. Actions (edits, deletions, reactions)
// are not entries of their own here: the store has applied them to their messages.

import { useEffect, useMemo } from "react";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { MessageKind, type Message } from "../gen/chat/v1/messages_pb";
import { Role } from "../gen/chat/v1/rooms_pb";
import { useChat } from "../hooks/useChat";
import { PHONE, useMediaQuery } from "../hooks/useMediaQuery";
import { useTimelineActions } from "../hooks/useTimelineActions";
import { useTimelineScroll } from "../hooks/useTimelineScroll";
import { dayKey, dayLabel } from "../lib/dates";
import { shownName } from "../lib/names";
import type { RoomState } from "../store/chat";
import { EventItem, MessageItem } from "./MessageItem";

/** Consecutive messages of one sender within this time share one name line. */
const GROUP_MS = 5 * 60_000;

interface Props {
  state: RoomState;
  /** The entries to show, in seq order (no actions). */
  entries: Message[];
  /** The message being edited inline. */
  editing: bigint | null;
  onEdit: (seq: bigint | null) => void;
  onReply: (m: Message) => void;
}

export function Timeline({ state, entries, editing, onEdit, onReply }: Props) {
  const { store, snap, user, act } = useChat();
  const { ref, onScroll, newBelow, toBottom, jumpTo } = useTimelineScroll(store, state, entries, user.id);
  const compact = useMediaQuery(PHONE);
  const roomId = state.room.id;
  const actions = useTimelineActions({ store, roomId, selfId: user.id, compact, act, onReply, onEdit, jumpTo });
  const myRole = state.members?.find((m) => m.user?.id === user.id)?.role ?? state.room.callerRole;
  const moderator = myRole === Role.OWNER || myRole === Role.ADMIN;
  const usernames = useMemo(() => {
    const map = new Map<string, string>([[user.id, user.username]]);
    for (const m of state.members ?? []) if (m.user) map.set(m.user.id, m.user.username);
    return map;
  }, [state.members, user]);
  const now = new Date();

  // A search result chosen for this room: shown in context once the room is open.
  const jump = snap.jump;
  useEffect(() => {
    if (!jump || jump.roomId !== roomId || !state.loaded) return;
    store.jumped();
    void act(() => jumpTo(jump.seq));
  }, [jump, roomId, state.loaded, store, act, jumpTo]);

  const items = [];
  let prev: Message | undefined;
  let prevDay = "";
  let divider = state.dividerAfter;
  for (const m of entries) {
    const date = m.createdAt ? timestampDate(m.createdAt) : null;
    const day = date ? dayKey(date) : prevDay;
    if (date && day !== prevDay) {
      items.push(
        <li key={`day-${m.seq}`} className="day" data-testid="day">
          <span>{dayLabel(date, now)}</span>
        </li>,
      );
    }
    if (divider !== null && m.kind === MessageKind.TEXT && Number(m.seq) > divider && m.senderId !== user.id) {
      items.push(
        <li key="new-messages" className="unread-divider" data-testid="new-messages-divider">
          <span>New messages</span>
        </li>,
      );
      divider = null;
    }
    if (m.kind === MessageKind.TEXT) {
      const name = shownName(snap.people, m.senderId, m.senderUsername, m.senderDisplayName);
      const grouped =
        prev?.kind === MessageKind.TEXT &&
        prev.senderId === m.senderId &&
        day === prevDay &&
        !!date &&
        !!prev.createdAt &&
        date.getTime() - timestampDate(prev.createdAt).getTime() < GROUP_MS;
      const replyTo = Number(m.replyToSeq);
      const quoted = replyTo > 0 ? (state.entries.get(replyTo) ?? state.quoted.get(replyTo)) : undefined;
      const quotedName = quoted ? shownName(snap.people, quoted.senderId, quoted.senderUsername, quoted.senderDisplayName).name : "";
      const mine = m.senderId === user.id;
      items.push(
        <MessageItem
          key={String(m.seq)}
          message={m}
          name={name.name}
          handle={name.title}
          mine={mine}
          grouped={grouped}
          canDelete={mine || moderator}
          editing={editing === m.seq}
          quoted={quoted}
          quotedName={quotedName}
          usernames={usernames}
          actions={actions}
        />,
      );
    } else {
      items.push(<EventItem key={String(m.seq)} message={m} people={snap.people} />);
    }
    prev = m;
    prevDay = day;
  }

  return (
    <div className="timeline-wrap">
      <div className="timeline" ref={ref} onScroll={onScroll} data-testid="timeline" role="region" aria-label="Messages" tabIndex={0}>
        <p className="start">
          {!state.loaded ? "Loading…" : state.hasOlder ? "Loading older messages…" : "This is the start of the conversation."}
        </p>
        <ol className="entries">{items}</ol>
      </div>
      {newBelow && (
        <button className="new-below primary" onClick={toBottom} data-testid="new-below">
          New messages ↓
        </button>
      )}
    </div>
  );
}
