// Errors in plain words. The server's status messages are written for people, so they are shown as they
// are (capitalised); only failures that never reached the server get a message of our own.

import { Code, ConnectError } from "@connectrpc/connect";

const UNREACHABLE = "Can't reach the server. Check your connection and try again.";

/** Whether the call may succeed if simply tried again (with the same client_message_id, for a send). */
export function isTransient(e: unknown): boolean {
  const code = ConnectError.from(e).code;
  return [Code.Unavailable, Code.Unknown, Code.DeadlineExceeded, Code.Aborted, Code.Internal].includes(code);
}

export function describeError(e: unknown): string {
  const err = ConnectError.from(e);
  // A failed fetch (no network, server down) surfaces as UNKNOWN with the browser's TypeError.
  if (err.code === Code.Unknown && err.cause instanceof TypeError) return UNREACHABLE;
  // UNAVAILABLE also comes from proxies (Envoy's "upstream connect error…"), whose words are not for people.
  if (err.code === Code.Unavailable) return UNREACHABLE;
  const text = err.rawMessage || "Something went wrong. Please try again.";
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
}
