// Clients for the four services. Every call but Register, Login and RefreshToken carries the access
// token. A unary call refused because the token expired (reason TOKEN_EXPIRED) is retried once with a
// refreshed token; one refused because the session is over (SESSION_ENDED, TOKEN_INVALID) ends the
// session at once, since a refresh could only fail.

import { createClient, type Interceptor } from "@connectrpc/connect";
import { AuthService } from "../gen/chat/v1/auth_pb";
import { MessageService } from "../gen/chat/v1/messages_pb";
import { PresenceService } from "../gen/chat/v1/presence_pb";
import { RoomService } from "../gen/chat/v1/rooms_pb";
import { endsSession, needsRefresh } from "./errors";
import { endSessionAfter, refreshAccessToken, validAccessToken } from "./session";
import { publicAuth, transport } from "./transport";

const withAccessToken: Interceptor = (next) => async (req) => {
  const token = await validAccessToken();
  req.header.set("authorization", `Bearer ${token}`);
  try {
    return await next(req);
  } catch (e) {
    // A stream's failure is the stream owner's to handle (see store/chat.ts and store/recovery.ts).
    if (req.stream) throw e;
    if (!needsRefresh(e)) throw ended(e);
  }
  req.header.set("authorization", `Bearer ${await refreshAccessToken(token)}`);
  try {
    return await next(req);
  } catch (e) {
    throw ended(e);
  }
};

/** Ends the session when `e` says it is over; returns `e`. */
function ended(e: unknown): unknown {
  if (endsSession(e)) endSessionAfter(e);
  return e;
}

const authed = transport([withAccessToken]);

export { publicAuth };
export const auth = createClient(AuthService, authed);
export const rooms = createClient(RoomService, authed);
export const messages = createClient(MessageService, authed);
export const presence = createClient(PresenceService, authed);
