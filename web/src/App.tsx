// The top level: the sign-in screen without a session, the chat with one.

import { useSyncExternalStore } from "react";
import { getSession, subscribeSession } from "./api/session";
import { Chat } from "./components/Chat";
import { SignIn } from "./components/SignIn";

export function App() {
  const session = useSyncExternalStore(subscribeSession, getSession);
  // Keyed by user, so that a different account starts from a clean state.
  return session ? <Chat key={session.user.id} user={session.user} /> : <SignIn />;
}
