import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { detail, failedCall, info } from "../api/testing";
import { RetryInfoSchema } from "../gen/google/rpc/error_details_pb";
import { afterStreamFailure } from "./recovery";

const action = async (code: Code, reason?: string) =>
  afterStreamFailure(await failedCall(code, "x", reason ? [info(reason)] : [])).action;

describe("after the Subscribe stream fails", () => {
  it("signs out when the session is over, without refreshing", async () => {
    for (const reason of ["SESSION_ENDED", "TOKEN_INVALID", "REFRESH_TOKEN_INVALID", "REFRESH_TOKEN_REUSED"]) {
      expect(await action(Code.Unauthenticated, reason)).toBe("sign-out");
    }
  });

  it("refreshes an expired token and reconnects", async () => {
    expect(await action(Code.Unauthenticated, "TOKEN_EXPIRED")).toBe("refresh");
    // No reason (a proxy, an older server): as before reasons, a refused token is refreshed once.
    expect(await action(Code.Unauthenticated)).toBe("refresh");
  });

  it("lists the rooms again when one of them is gone or no longer the user's", async () => {
    expect(await action(Code.NotFound, "ROOM_NOT_FOUND")).toBe("relist");
    expect(await action(Code.PermissionDenied, "NOT_A_MEMBER")).toBe("relist");
    expect(await action(Code.FailedPrecondition, "NOT_A_MEMBER")).toBe("relist");
  });

  it("backs off for the server stopping or lagging, the network, and anything else", async () => {
    for (const reason of ["SHUTTING_DOWN", "UNAVAILABLE", "STREAM_FELL_BEHIND", undefined]) {
      expect(await action(Code.Unavailable, reason)).toBe("backoff");
    }
    expect(await action(Code.Unauthenticated, "CREDENTIALS_MISSING")).toBe("backoff");
    expect(await action(Code.NotFound)).toBe("backoff");
    const offline = new ConnectError("Failed to fetch", Code.Unknown, undefined, undefined, new TypeError());
    expect(afterStreamFailure(offline)).toEqual({ action: "backoff", minWaitMs: 0 });
  });

  it("waits at least as long as the server asks", async () => {
    const limited = await failedCall(Code.ResourceExhausted, "too many streams", [
      info("LIMIT_REACHED"),
      detail(RetryInfoSchema, { retryDelay: durationFromMs(5_000) }),
    ]);
    expect(afterStreamFailure(limited)).toEqual({ action: "backoff", minWaitMs: 5_000 });
  });
});
