// Timeline actions (edits, deletions, reactions) applied to the messages they act on.
//
// An action is a timeline entry of its own (its own seq, target_seq naming the message). The server returns
// text messages in their current state, so a message the client holds is as of some point of the timeline
// (its `asOf` seq: the newest entry the server had applied when it answered); an action is applied only when
// it is newer than that, so a page of history never takes a message back to an older state. Every action
// carries absolute values (the new text, the reaction's count after it), so applying one twice, or applying
// several in seq order, always ends in the server's state.

import { create } from "@bufbuild/protobuf";
import { MessageKind, ReactionSchema, type Message } from "../gen/chat/v1/messages_pb";

const ACTIONS = new Set([MessageKind.EDIT, MessageKind.DELETE, MessageKind.REACTION_ADDED, MessageKind.REACTION_REMOVED]);
const MEMBERSHIP = new Set([
  MessageKind.MEMBER_JOINED,
  MessageKind.MEMBER_LEFT,
  MessageKind.MEMBER_INVITED,
  MessageKind.MEMBER_REMOVED,
  MessageKind.MEMBER_ROLE_CHANGED,
  MessageKind.INVITATION_DECLINED,
]);

/** Whether an entry acts on another message (and so is not shown as an entry of its own). */
export function isAction(m: Message): boolean {
  return ACTIONS.has(m.kind);
}

/** Whether an entry records a change of membership. */
export function isMembership(m: Message): boolean {
  return MEMBERSHIP.has(m.kind);
}

/**
 * The target as it is after `action`, a new object (views memoise on messages); the target itself when the
 * action does not change it. `selfId` is the signed-in user: their own reactions set `reactedByCaller`.
 */
export function applyAction(target: Message, action: Message, selfId: string): Message {
  if (target.deletedAt && action.kind !== MessageKind.DELETE) return target;
  switch (action.kind) {
    case MessageKind.EDIT:
      return { ...target, body: action.body, editedAt: action.createdAt, mentions: [...action.mentions] };
    case MessageKind.DELETE:
      if (target.deletedAt) return target;
      return { ...target, body: "", reactions: [], mentions: [], deletedAt: action.createdAt };
    case MessageKind.REACTION_ADDED:
    case MessageKind.REACTION_REMOVED: {
      const count = action.reactions[0]?.count ?? 0n;
      const mine = action.senderId === selfId ? action.kind === MessageKind.REACTION_ADDED : undefined;
      const reactions = [...target.reactions];
      const i = reactions.findIndex((r) => r.emoji === action.emoji);
      if (count <= 0n) {
        if (i >= 0) reactions.splice(i, 1);
      } else if (i >= 0) {
        reactions[i] = { ...reactions[i], count, reactedByCaller: mine ?? reactions[i].reactedByCaller };
      } else {
        reactions.push(create(ReactionSchema, { emoji: action.emoji, count, reactedByCaller: mine ?? false }));
      }
      return { ...target, reactions };
    }
    default:
      return target;
  }
}
