import { describe, expect, it } from "vitest";
import { completeMention, mentionQuery } from "./mentionQuery";

describe("mentionQuery", () => {
  it("finds the name typed after an @ at a word start", () => {
    expect(mentionQuery("hi @bo", 6)).toEqual({ start: 3, prefix: "bo" });
    expect(mentionQuery("@", 1)).toEqual({ start: 0, prefix: "" });
    expect(mentionQuery("mail bob@ex", 11)).toBeNull();
    expect(mentionQuery("hi @bob there", 13)).toBeNull();
    expect(mentionQuery("@@bo", 4)).toBeNull();
  });

  it("replaces the query with the chosen username and a space", () => {
    expect(completeMention("hi @bo, ok", 6, { start: 3, prefix: "bo" }, "bob_1")).toEqual({ text: "hi @bob_1 , ok", caret: 10 });
    expect(completeMention("@al", 3, { start: 0, prefix: "al" }, "alice")).toEqual({ text: "@alice ", caret: 7 });
  });
});
