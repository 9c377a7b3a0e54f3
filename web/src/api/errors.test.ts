import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BadRequestSchema, RetryInfoSchema } from "../gen/google/rpc/error_details_pb";
import { describeError, endsSession, ErrorReason, hasReason, needsRefresh, reasonOf, retryAfterMs } from "./errors";
import { detail, failedCall, info } from "./testing";

describe("errors from the wire", () => {
  it("reads the reason and the retry delay of a throttled sign-in", async () => {
    const err = await failedCall(Code.ResourceExhausted, "too many failed sign-in attempts; try again in 40 s", [
      info("LOGIN_THROTTLED"),
      detail(RetryInfoSchema, { retryDelay: durationFromMs(39_200) }),
    ]);
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(reasonOf(err)).toBe(ErrorReason.LOGIN_THROTTLED);
    expect(retryAfterMs(err)).toBe(39_200);
    expect(describeError(err)).toBe("Too many attempts; try again in 40 s.");
  });

  it("finds the ErrorInfo among other details", async () => {
    const err = await failedCall(Code.InvalidArgument, "invalid request: password: too short", [
      detail(BadRequestSchema, { fieldViolations: [{ field: "password", description: "too short" }] }),
      info("FIELD_INVALID"),
    ]);
    expect(hasReason(err, ErrorReason.FIELD_INVALID, ErrorReason.USERNAME_TAKEN)).toBe(true);
    expect(retryAfterMs(err)).toBeUndefined();
    expect(describeError(err)).toBe("Invalid request: password: too short.");
  });

  it("knows no reason for another domain's, an unknown one, or none", async () => {
    const foreign = await failedCall(Code.NotFound, "x", [info("ROOM_NOT_FOUND", "example.com")]);
    const newer = await failedCall(Code.NotFound, "x", [info("SOMETHING_NEWER")]);
    const numeric = await failedCall(Code.NotFound, "x", [info("16")]);
    const bare = await failedCall(Code.NotFound, "x", []);
    for (const err of [foreign, newer, numeric, bare]) expect(reasonOf(err)).toBeUndefined();
  });

  it("refreshes an expired token, but not an ended session", async () => {
    const expired = await failedCall(Code.Unauthenticated, "x", [info("TOKEN_EXPIRED")]);
    expect([needsRefresh(expired), endsSession(expired)]).toEqual([true, false]);
    const ended = await failedCall(Code.Unauthenticated, "x", [info("SESSION_ENDED")]);
    expect([needsRefresh(ended), endsSession(ended)]).toEqual([false, true]);
    const missing = await failedCall(Code.Unauthenticated, "x", [info("CREDENTIALS_MISSING")]);
    expect([needsRefresh(missing), endsSession(missing)]).toEqual([false, false]);
    // Without a reason (a proxy, an older server) the status code decides, as before reasons.
    expect(needsRefresh(await failedCall(Code.Unauthenticated, "x", []))).toBe(true);
    // A refusal made here, not received, is no reason to refresh.
    expect(needsRefresh(new ConnectError("you are signed out", Code.Unauthenticated))).toBe(false);
  });

  it("words a proxy's UNAVAILABLE as unreachable, and Parley's by its reason", async () => {
    const proxy = await failedCall(Code.Unavailable, "upstream connect error or disconnect/reset before headers", []);
    expect(describeError(proxy)).toBe("Can't reach the server. Check your connection and try again.");
    const stopping = await failedCall(Code.Unavailable, "the server is shutting down", [info("SHUTTING_DOWN")]);
    expect(describeError(stopping)).toBe("The server is restarting.");
  });
});
