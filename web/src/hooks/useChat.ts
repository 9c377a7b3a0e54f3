// What every part of the signed-in screen needs: the store, its current snapshot, the user, and `act`,
// which runs an action and shows its failure in the error banner.

import { createContext, useContext } from "react";
import type { SessionUser } from "../api/session";
import type { ChatStore, Snapshot } from "../store/chat";

export interface ChatContextValue {
  store: ChatStore;
  snap: Snapshot;
  user: SessionUser;
  /** Runs `what`; on failure shows why in the error banner and answers false. */
  act: (what: () => Promise<unknown>) => Promise<boolean>;
}

export const ChatContext = createContext<ChatContextValue | null>(null);

export function useChat(): ChatContextValue {
  const value = useContext(ChatContext);
  if (!value) throw new Error("useChat outside <Chat>");
  return value;
}
