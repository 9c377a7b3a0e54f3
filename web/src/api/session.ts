// The signed-in session: tokens kept in localStorage (so a reload stays signed in) and their refresh.
//
// Refresh tokens rotate on every use, and presenting a used one revokes the whole session. So a refresh
// is single-flight within the tab, serialised across tabs with a Web Lock, and re-reads the stored tokens
// once it holds the lock: another tab may have refreshed already.

import { Code, ConnectError } from "@connectrpc/connect";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Tokens, User } from "../gen/chat/v1/auth_pb";
import { describeEnded } from "./errors";
import { publicAuth } from "./transport";

export interface SessionUser {
  id: string;
  username: string;
  displayName: string;
}

export interface Session {
  user: SessionUser;
  accessToken: string;
  /** When the access token expires, in milliseconds since the epoch. */
  accessExpiresAt: number;
  refreshToken: string;
}

const KEY = "parley.session";
/** Refresh an access token this long before it expires. */
const EXPIRY_MARGIN_MS = 30_000;

function readStored(): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

let current = readStored();
let endedReason: string | null = null;
const listeners = new Set<() => void>();

function publish(next: Session | null) {
  current = next;
  listeners.forEach((l) => l());
}

// Another tab signed in, refreshed or signed out.
window.addEventListener("storage", (e) => {
  if (e.key === KEY || e.key === null) publish(readStored());
});

/** For useSyncExternalStore: the session as last stored. */
export function getSession(): Session | null {
  return current;
}

export function subscribeSession(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Why the last session ended without the user signing out, once; null otherwise. */
export function takeEndedReason(): string | null {
  const reason = endedReason;
  endedReason = null;
  return reason;
}

function withTokens(user: SessionUser, tokens: Tokens): Session {
  return {
    user,
    accessToken: tokens.accessToken,
    accessExpiresAt: tokens.accessTokenExpiresAt ? timestampMs(tokens.accessTokenExpiresAt) : 0,
    refreshToken: tokens.refreshToken,
  };
}

/** Starts a session from a Register or Login answer. */
export function startSession(user: User | undefined, tokens: Tokens | undefined) {
  if (!user || !tokens) throw new ConnectError("the server sent an incomplete answer", Code.Internal);
  const session = withTokens({ id: user.id, username: user.username, displayName: user.displayName }, tokens);
  localStorage.setItem(KEY, JSON.stringify(session));
  endedReason = null;
  publish(session);
}

/** Forgets the session; with a reason, the sign-in screen shows it. */
export function endSession(reason?: string) {
  localStorage.removeItem(KEY);
  endedReason = reason ?? null;
  publish(null);
}

/** Forgets the session because the server refused it for good (`e`), saying why on the sign-in screen. */
export function endSessionAfter(e: unknown) {
  endSession(describeEnded(e));
}

function signedOut(): ConnectError {
  return new ConnectError("you are signed out", Code.Unauthenticated);
}

/** An access token that is not about to expire, refreshing first if needed. */
export async function validAccessToken(): Promise<string> {
  const session = readStored();
  if (!session) throw signedOut();
  if (session.accessExpiresAt - Date.now() > EXPIRY_MARGIN_MS) return session.accessToken;
  return refreshAccessToken(session.accessToken);
}

let inflight: Promise<string> | null = null;

/** Replaces the stored access token, which the server refused as expired (its clock may be ahead of ours). */
export function renewAccessToken(): Promise<string> {
  return refreshAccessToken(readStored()?.accessToken ?? "");
}

/**
 * Replaces `stale`, an access token that expired or was refused, with a new one, and returns it. When the
 * stored token is already newer (another call or tab refreshed it), that one is returned without a refresh.
 */
export function refreshAccessToken(stale: string): Promise<string> {
  inflight ??= withRefreshLock(() => refresh(stale)).finally(() => {
    inflight = null;
  });
  return inflight;
}

function withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
  // Web Locks exist only in secure contexts (https or localhost); elsewhere a tab can only serialise itself.
  if (!("locks" in navigator) || !navigator.locks) return fn();
  // The lock is held until fn's promise settles, and request() answers with what fn resolved to.
  return navigator.locks.request("parley-refresh", fn) as unknown as Promise<T>;
}

async function refresh(stale: string): Promise<string> {
  const session = readStored();
  if (!session) {
    publish(null);
    throw signedOut();
  }
  if (session.accessToken !== stale && session.accessExpiresAt - Date.now() > EXPIRY_MARGIN_MS) {
    if (current?.accessToken !== session.accessToken) publish(session);
    return session.accessToken;
  }
  try {
    const { tokens } = await publicAuth.refreshToken({ refreshToken: session.refreshToken });
    if (!tokens) throw new ConnectError("the server sent an incomplete answer", Code.Internal);
    const next = withTokens(session.user, tokens);
    localStorage.setItem(KEY, JSON.stringify(next));
    publish(next);
    return next.accessToken;
  } catch (e) {
    // Whatever the reason (the refresh token is unknown, expired, reused or of an ended session), a
    // refused refresh token cannot be replaced without signing in.
    if (ConnectError.from(e).code === Code.Unauthenticated) endSessionAfter(e);
    throw e;
  }
}
