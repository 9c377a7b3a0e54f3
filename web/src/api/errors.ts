// Errors: why a call failed, as the server says it, and what to tell people.
//
// Every Parley error status carries a google.rpc.ErrorInfo whose reason is a stable word (listed, with its
// meaning, in chat.v1.ErrorReason), and limits a google.rpc.RetryInfo. The client decides on the reason,
// never on the status message. A failure without a Parley reason (the network, a proxy's own error) or
// with one this client does not know yet (a newer server) has reason undefined, and callers fall back on
// the status code, as errors.proto asks.
//
// The server's status messages are written for people, so they are shown as they are (capitalised); only
// failures that never reached the server, and reasons that read better in our own words, get a message
// of our own.

import { Code, ConnectError } from "@connectrpc/connect";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { ErrorReason } from "../gen/chat/v1/errors_pb";
import { ErrorInfoSchema, RetryInfoSchema } from "../gen/google/rpc/error_details_pb";

export { ErrorReason };

/** The ErrorInfo domain of Parley's own reasons. */
export const DOMAIN = "parley.chat";

const UNREACHABLE = "Can't reach the server. Check your connection and try again.";

/** Parley's reason for `e`; undefined when there is none or this client does not know it. */
export function reasonOf(e: unknown): ErrorReason | undefined {
  const info = ConnectError.from(e)
    .findDetails(ErrorInfoSchema)
    .find((i) => i.domain === DOMAIN);
  // A numeric enum maps names to numbers (and numbers back to names, hence the type check).
  const reason: unknown = info ? ErrorReason[info.reason as keyof typeof ErrorReason] : undefined;
  return typeof reason === "number" && reason !== ErrorReason.UNSPECIFIED ? reason : undefined;
}

/** Whether Parley's reason for `e` is one of `reasons`. */
export function hasReason(e: unknown, ...reasons: ErrorReason[]): boolean {
  const reason = reasonOf(e);
  return reason !== undefined && reasons.includes(reason);
}

/** How long the server asks to wait before trying again (google.rpc.RetryInfo), in milliseconds. */
export function retryAfterMs(e: unknown): number | undefined {
  const delay = ConnectError.from(e).findDetails(RetryInfoSchema)[0]?.retryDelay;
  return delay ? Math.max(0, durationMs(delay)) : undefined;
}

/**
 * Whether a new access token may make `e`'s call succeed: the token expired, or the call was refused as
 * UNAUTHENTICATED without a reason this client knows (so it does what it did before reasons existed).
 * Errors made here, not received (no session at all), never qualify.
 */
export function needsRefresh(e: unknown): boolean {
  const err = ConnectError.from(e);
  const reason = reasonOf(err);
  if (reason !== undefined) return reason === ErrorReason.TOKEN_EXPIRED;
  return err.code === Code.Unauthenticated && err.isWireError;
}

/** Whether `e` says the session is over, so that only signing in again helps (refreshing would not). */
export function endsSession(e: unknown): boolean {
  return hasReason(
    e,
    ErrorReason.SESSION_ENDED,
    ErrorReason.TOKEN_INVALID,
    ErrorReason.REFRESH_TOKEN_INVALID,
    ErrorReason.REFRESH_TOKEN_REUSED,
  );
}

/** Why the session ended, for the sign-in screen. */
export function describeEnded(e: unknown): string {
  if (hasReason(e, ErrorReason.REFRESH_TOKEN_REUSED)) {
    return "For your safety this session was ended: its sign-in was used in two places. Please sign in again.";
  }
  return "Your session has ended. Please sign in again.";
}

/** Whether the call may succeed if simply tried again (with the same client_message_id, for a send). */
export function isTransient(e: unknown): boolean {
  const code = ConnectError.from(e).code;
  return [Code.Unavailable, Code.Unknown, Code.DeadlineExceeded, Code.Aborted, Code.Internal].includes(code);
}

/** "40 s" or "3 min": a wait, rounded up. */
export function formatWait(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  return seconds < 90 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
}

function tryAgain(e: ConnectError): string {
  const wait = retryAfterMs(e);
  return wait === undefined ? "try again in a moment." : `try again in ${formatWait(wait)}.`;
}

export function describeError(e: unknown): string {
  const err = ConnectError.from(e);
  switch (reasonOf(err)) {
    case ErrorReason.LOGIN_THROTTLED:
      return `Too many attempts; ${tryAgain(err)}`;
    case ErrorReason.RATE_LIMITED:
      return `Too many requests; ${tryAgain(err)}`;
    case ErrorReason.SHUTTING_DOWN:
      return "The server is restarting.";
    case ErrorReason.STREAM_FELL_BEHIND:
      return "The connection fell behind.";
    case ErrorReason.MESSAGE_DELETED:
      return "That message has been deleted.";
    case ErrorReason.ACCOUNT_DISABLED:
      return "This account is disabled; ask the server's operator.";
    case ErrorReason.NOT_YOUR_MESSAGE:
      return "Only its sender (or, to delete it, a room owner or admin) can do that to this message.";
    case ErrorReason.MESSAGE_NOT_FOUND:
      return "That message no longer exists.";
    case undefined:
      // A failed fetch (no network, server down) surfaces as UNKNOWN with the browser's TypeError.
      if (err.code === Code.Unknown && err.cause instanceof TypeError) return UNREACHABLE;
      // UNAVAILABLE without a reason comes from proxies (Envoy's "upstream connect error…"), whose words
      // are not for people.
      if (err.code === Code.Unavailable) return UNREACHABLE;
  }
  const text = err.rawMessage || "Something went wrong. Please try again.";
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
}

/**
 * Runs `call`, trying again up to three times after transient failures (300 ms, doubling). Only for calls
 * that are safe to repeat: sends and edits with a client_message_id, and idempotent ones.
 */
export async function withRetries<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= 3 || !isTransient(err)) throw err;
      await new Promise((r) => setTimeout(r, 300 * 2 ** attempt));
    }
  }
}
