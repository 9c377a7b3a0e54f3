import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { MessageKind, MessageSchema, ReactionSchema } from "../gen/chat/v1/messages_pb";
import { applyAction, isAction } from "./actions";

const text = create(MessageSchema, {
  seq: 5n,
  kind: MessageKind.TEXT,
  senderId: "a",
  body: "hello @bob",
  mentions: ["b"],
  reactions: [create(ReactionSchema, { emoji: "👍", count: 2n, reactedByCaller: false })],
});
const action = (kind: MessageKind, fields: Record<string, unknown> = {}) =>
  create(MessageSchema, { seq: 9n, kind, targetSeq: 5n, senderId: "b", createdAt: timestampFromMs(1000), ...fields });

describe("applyAction", () => {
  it("an edit sets the text, the edit time and the mentions", () => {
    const edited = applyAction(text, action(MessageKind.EDIT, { body: "bye", mentions: [] }), "me");
    expect(edited).toMatchObject({ body: "bye", mentions: [], editedAt: timestampFromMs(1000) });
    expect(text.body).toBe("hello @bob");
  });

  it("a deletion leaves a tombstone that later actions do not change", () => {
    const gone = applyAction(text, action(MessageKind.DELETE), "me");
    expect(gone).toMatchObject({ body: "", reactions: [], mentions: [], deletedAt: timestampFromMs(1000) });
    expect(applyAction(gone, action(MessageKind.EDIT, { body: "again" }), "me")).toBe(gone);
  });

  it("a reaction sets the emoji's count, and the reader's own sets reactedByCaller", () => {
    const count = (n: bigint) => [create(ReactionSchema, { emoji: "👍", count: n })];
    const mine = applyAction(text, action(MessageKind.REACTION_ADDED, { emoji: "👍", reactions: count(3n), senderId: "me" }), "me");
    expect(mine.reactions.map((r) => [r.emoji, r.count, r.reactedByCaller])).toEqual([["👍", 3n, true]]);
    const again = applyAction(mine, action(MessageKind.REACTION_ADDED, { emoji: "👍", reactions: count(3n), senderId: "me" }), "me");
    expect(again.reactions[0].count).toBe(3n);
    const other = applyAction(mine, action(MessageKind.REACTION_REMOVED, { emoji: "👍", reactions: count(2n) }), "me");
    expect(other.reactions.map((r) => [r.count, r.reactedByCaller])).toEqual([[2n, true]]);
    const none = applyAction(text, action(MessageKind.REACTION_REMOVED, { emoji: "👍", reactions: count(0n) }), "me");
    expect(none.reactions).toEqual([]);
    const added = applyAction(text, action(MessageKind.REACTION_ADDED, { emoji: "🎉", reactions: [create(ReactionSchema, { emoji: "🎉", count: 1n })] }), "me");
    expect(added.reactions.map((r) => r.emoji)).toEqual(["👍", "🎉"]);
  });

  it("knows actions from other entries", () => {
    expect(isAction(action(MessageKind.EDIT))).toBe(true);
    expect(isAction(text)).toBe(false);
  });
});
