import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { anyPack, AnySchema, durationFromMs, type Any } from "@bufbuild/protobuf/wkt";
import { base64Encode, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { describe, expect, it } from "vitest";
import { AuthService } from "../gen/chat/v1/auth_pb";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../gen/google/rpc/error_details_pb";
import { describeError, endsSession, ErrorReason, hasReason, needsRefresh, reasonOf, retryAfterMs } from "./errors";

/** A detail as the server attaches it: a message of `schema`, Any-wrapped. */
function detail<D extends DescMessage>(schema: D, init: MessageInitShape<D>): Any {
  return anyPack(schema, create(schema, init));
}

/** The bytes of a google.rpc.Status (code = 1, message = 2, repeated Any details = 3), written field by field. */
function statusBytes(code: Code, message: string, details: Any[]): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.Varint).int32(code);
  w.tag(2, WireType.LengthDelimited).string(message);
  for (const any of details) w.tag(3, WireType.LengthDelimited).bytes(toBinary(AnySchema, any));
  return w.finish();
}

/**
 * The ConnectError a real Login call ends with when the server answers, as parleyd does, with a
 * trailers-only grpc-web response whose grpc-status-details-bin carries `details`.
 */
async function failedCall(code: Code, message: string, details: Any[]): Promise<ConnectError> {
  const fetch = async () =>
    new Response(new Uint8Array(), {
      status: 200,
      headers: {
        "content-type": "application/grpc-web+proto",
        "grpc-status": String(code),
        "grpc-message": encodeURIComponent(message),
        "grpc-status-details-bin": base64Encode(statusBytes(code, message, details), "std_raw"),
      },
    });
  const client = createClient(AuthService, createGrpcWebTransport({ baseUrl: "http://parley.test", fetch }));
  try {
    await client.login({ login: "alice", password: "wrong" });
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("the call succeeded");
}

const info = (reason: string, domain = "parley.chat") => detail(ErrorInfoSchema, { reason, domain });

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
