// One timeline entry: a text message (Markdown rendered safely, direction from its own text, mentions of
// members marked, its reply quote, "(edited)", its reactions and actions; a deleted one as a tombstone) or
// a line about a membership change.

import { memo, useMemo } from "react";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { MessageKind, type Message } from "../gen/chat/v1/messages_pb";
import { Role } from "../gen/chat/v1/rooms_pb";
import type { TimelineActions } from "../hooks/useTimelineActions";
import { fullDateTime, shortTime } from "../lib/dates";
import { renderMarkdown, usernameKey } from "../lib/markdown";
import { shownName } from "../lib/names";
import type { Person } from "../store/chat";
import { MessageEditor } from "./MessageEditor";
import { MessageMenu } from "./MessageMenu";
import { Reactions } from "./Reactions";
import { ReplyQuote } from "./ReplyQuote";

interface Props {
  message: Message;
  /** The sender's display name, and `@username` for the hover title. */
  name: string;
  handle: string;
  mine: boolean;
  /** Whether it continues the previous message's group (no name line). */
  grouped: boolean;
  /** Whether the reader may delete it (theirs, or they own or administer the room). */
  canDelete: boolean;
  editing: boolean;
  /** For a reply: the message replied to (undefined while it is read, null when it cannot be). */
  quoted?: Message | null;
  quotedName: string;
  /** Members' usernames by user id, to mark the message's mentions. */
  usernames: ReadonlyMap<string, string>;
  actions: TimelineActions;
}

export const MessageItem = memo(function MessageItem(props: Props) {
  const { message, name, handle, mine, grouped, canDelete, editing, quoted, quotedName, usernames, actions } = props;
  const date = message.createdAt ? timestampDate(message.createdAt) : null;
  const edited = message.editedAt ? timestampDate(message.editedAt) : null;
  const deleted = !!message.deletedAt;
  const mentionsMe = message.mentions.includes(actions.selfId);
  const mentions = useMemo(
    () =>
      new Map(
        message.mentions.flatMap((id) => {
          const username = usernames.get(id);
          return username ? [[usernameKey(username), id === actions.selfId] as const] : [];
        }),
      ),
    [message.mentions, usernames, actions.selfId],
  );
  const time = date && (
    <time dateTime={date.toISOString()} title={fullDateTime(date)}>
      {shortTime(date)}
    </time>
  );
  const classes = ["message", mine && "mine", grouped && "grouped", mentionsMe && "mentioned", deleted && "deleted"];
  return (
    <li className={classes.filter(Boolean).join(" ")} data-testid="message" data-seq={String(message.seq)}>
      {!grouped && (
        <div className="meta">
          <strong className="sender" title={handle}>
            {name}
          </strong>
          {time}
        </div>
      )}
      {message.replyToSeq > 0n && (
        <ReplyQuote seq={message.replyToSeq} target={quoted} name={quotedName} actions={actions} />
      )}
      <div className="bubble">
        {editing && !deleted ? (
          <MessageEditor message={message} onDone={() => actions.edit(null)} />
        ) : deleted ? (
          <div className="body tombstone" data-testid="tombstone">
            This message was deleted
          </div>
        ) : (
          <div className="body" dir="auto">
            {renderMarkdown(message.body, mentions)}
          </div>
        )}
        {edited && !deleted && !editing && (
          <span className="edited" title={`Edited ${fullDateTime(edited)}`} data-testid="edited">
            (edited)
          </span>
        )}
        {!deleted && !editing && (
          <MessageMenu message={message} canEdit={mine} canDelete={canDelete} actions={actions} />
        )}
        {grouped && <span className="hover-time">{time}</span>}
      </div>
      {!deleted && <Reactions message={message} actions={actions} />}
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
  const by = shownName(people, m.senderId, m.senderUsername, m.senderDisplayName).name;
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
