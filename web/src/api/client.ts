// Clients for the four services. Every call but Register, Login and RefreshToken carries the access
// token; a unary call refused with UNAUTHENTICATED is retried once with a refreshed token.

import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { AuthService } from "../gen/chat/v1/auth_pb";
import { MessageService } from "../gen/chat/v1/messages_pb";
import { PresenceService } from "../gen/chat/v1/presence_pb";
import { RoomService } from "../gen/chat/v1/rooms_pb";
import { refreshAccessToken, validAccessToken } from "./session";
import { publicAuth, transport } from "./transport";

const withAccessToken: Interceptor = (next) => async (req) => {
  const token = await validAccessToken();
  req.header.set("authorization", `Bearer ${token}`);
  try {
    return await next(req);
  } catch (e) {
    // A stream's failure is the stream owner's to handle (see store/stream.ts).
    if (req.stream || ConnectError.from(e).code !== Code.Unauthenticated) throw e;
    req.header.set("authorization", `Bearer ${await refreshAccessToken(token)}`);
    return await next(req);
  }
};

const authed = transport([withAccessToken]);

export { publicAuth };
export const auth = createClient(AuthService, authed);
export const rooms = createClient(RoomService, authed);
export const messages = createClient(MessageService, authed);
export const presence = createClient(PresenceService, authed);
