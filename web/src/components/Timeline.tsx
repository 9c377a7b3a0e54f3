// The open room's timeline: date separators, messages grouped by sender, membership entries, and older
// pages loading as the reader scrolls up (see useTimelineScroll).

import { timestampDate } from "@bufbuild/protobuf/wkt";
import { MessageKind, type Message } from "../gen/chat/v1/messages_pb";
import { useChat } from "../hooks/useChat";
import { useTimelineScroll } from "../hooks/useTimelineScroll";
import { dayKey, dayLabel } from "../lib/dates";
import { shownName } from "../lib/names";
import type { RoomState } from "../store/chat";
import { EventItem, MessageItem } from "./MessageItem";

/** Consecutive messages of one sender within this time share one name line. */
const GROUP_MS = 5 * 60_000;

export function Timeline({ state, entries }: { state: RoomState; entries: Message[] }) {
  const { store, snap, user } = useChat();
  const { ref, onScroll, newBelow, toBottom } = useTimelineScroll(store, state, entries, user.id);
  const now = new Date();

  const items = [];
  let prev: Message | undefined;
  let prevDay = "";
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
    if (m.kind === MessageKind.TEXT) {
      const name = shownName(snap.people, m.senderId, m.senderUsername);
      const grouped =
        prev?.kind === MessageKind.TEXT &&
        prev.senderId === m.senderId &&
        day === prevDay &&
        !!date &&
        !!prev.createdAt &&
        date.getTime() - timestampDate(prev.createdAt).getTime() < GROUP_MS;
      items.push(
        <MessageItem
          key={String(m.seq)}
          message={m}
          name={name.name}
          handle={name.title}
          mine={m.senderId === user.id}
          grouped={grouped}
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
