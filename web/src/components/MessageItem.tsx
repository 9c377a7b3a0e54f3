// One timeline entry: a text message (Markdown rendered safely, direction from its own text) or a line
// about a membership change.

import { memo } from "react";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { MessageKind, type Message } from "../gen/chat/v1/messages_pb";
import { Role } from "../gen/chat/v1/rooms_pb";
import { fullDateTime, shortTime } from "../lib/dates";
import { renderMarkdown } from "../lib/markdown";
import { shownName } from "../lib/names";
import type { Person } from "../store/chat";

interface Props {
  message: Message;
  /** The sender's display name, and `@username` for the hover title. */
  name: string;
  handle: string;
  mine: boolean;
  /** Whether it continues the previous message's group (no name line). */
  grouped: boolean;
}

export const MessageItem = memo(function MessageItem({ message, name, handle, mine, grouped }: Props) {
  const date = message.createdAt ? timestampDate(message.createdAt) : null;
  const time = date && (
    <time dateTime={date.toISOString()} title={fullDateTime(date)}>
      {shortTime(date)}
    </time>
  );
  return (
    <li
      className={`message ${mine ? "mine" : ""} ${grouped ? "grouped" : ""}`}
      data-testid="message"
      data-seq={String(message.seq)}
    >
      {!grouped && (
        <div className="meta">
          <strong className="sender" title={handle}>
            {name}
          </strong>
          {time}
        </div>
      )}
      <div className="bubble">
        <div className="body" dir="auto">
          {renderMarkdown(message.body)}
        </div>
        {grouped && <span className="hover-time">{time}</span>}
      </div>
    </li>
  );
});

export function EventItem({ message, people }: { message: Message; people: ReadonlyMap<string, Person> }) {
  const date = message.createdAt ? timestampDate(message.createdAt) : null;
  return (
    <li className="event" data-seq={String(message.seq)} title={date ? fullDateTime(date) : undefined}>
      {describeEvent(message, people)}
    </li>
  );
}

function describeEvent(m: Message, people: ReadonlyMap<string, Person>): string {
  const who = m.member ? shownName(people, m.member.userId, m.member.username).name : "someone";
  const by = shownName(people, m.senderId, m.senderUsername).name;
  switch (m.kind) {
    case MessageKind.MEMBER_JOINED:
      return `${who} joined`;
    case MessageKind.MEMBER_LEFT:
      return `${who} left`;
    case MessageKind.MEMBER_INVITED:
      return `${by} invited ${who}`;
    case MessageKind.MEMBER_REMOVED:
      return `${by} removed ${who}`;
    case MessageKind.MEMBER_ROLE_CHANGED:
      return `${who} is now ${m.member?.role === Role.ADMIN ? "an admin" : m.member?.role === Role.OWNER ? "the owner" : "a member"}`;
    case MessageKind.INVITATION_DECLINED:
      return `${who} declined the invitation`;
    default:
      return "";
  }
}
