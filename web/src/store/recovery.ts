// What the chat store does when its Subscribe stream fails, decided by the failure's ErrorInfo reason
// (the status code only where no known reason says more). Kept apart from the store, which acts on it, so
// that the decision is tested without a server.

import { endsSession, ErrorReason, hasReason, needsRefresh, retryAfterMs } from "../api/errors";

export type Recovery =
  /** The session is over (SESSION_ENDED, TOKEN_INVALID…): sign out, saying why. */
  | { action: "sign-out" }
  /** The access token expired (TOKEN_EXPIRED): refresh it and reconnect at once. */
  | { action: "refresh" }
  /**
   * A room among the cursors is gone or no longer the user's (ROOM_NOT_FOUND, NOT_A_MEMBER): list the
   * rooms again, which every attempt does first, and reconnect at once.
   */
  | { action: "relist" }
  /**
   * Anything else (SHUTTING_DOWN, UNAVAILABLE, STREAM_FELL_BEHIND, the network…): reconnect after the
   * backoff, resuming from the cursors, and not before the server's retry delay (`minWaitMs`), if any.
   */
  | { action: "backoff"; minWaitMs: number };

/** What to do after the stream failed with `e`. */
export function afterStreamFailure(e: unknown): Recovery {
  if (endsSession(e)) return { action: "sign-out" };
  if (needsRefresh(e)) return { action: "refresh" };
  if (hasReason(e, ErrorReason.ROOM_NOT_FOUND, ErrorReason.NOT_A_MEMBER)) return { action: "relist" };
  return { action: "backoff", minWaitMs: retryAfterMs(e) ?? 0 };
}

