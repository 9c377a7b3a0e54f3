// For unit tests only: errors exactly as a client receives them from parleyd, made by a real grpc-web
// transport from a trailers-only response whose grpc-status-details-bin carries the given details.

import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { anyPack, AnySchema, type Any } from "@bufbuild/protobuf/wkt";
import { base64Encode, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AuthService } from "../gen/chat/v1/auth_pb";
import { ErrorInfoSchema } from "../gen/google/rpc/error_details_pb";

/** A detail as the server attaches it: a message of `schema`, Any-wrapped. */
export function detail<D extends DescMessage>(schema: D, init: MessageInitShape<D>): Any {
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
export async function failedCall(code: Code, message: string, details: Any[]): Promise<ConnectError> {
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

/** Parley's ErrorInfo with `reason` (or another domain's). */
export const info = (reason: string, domain = "parley.chat") => detail(ErrorInfoSchema, { reason, domain });
