// Who is typing in the open room, above the message box: "X is typing…", "X and Y are typing…", or
// "Several people are typing…". The store removes each at its expiry, on `typing: false`, or when a message
// from that person arrives.

import { useChat } from "../hooks/useChat";
import { shownName } from "../lib/names";
import type { Typist } from "../store/chat";

export function typingText(names: string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return "Several people are typing…";
}

export function TypingIndicator({ typing }: { typing: ReadonlyMap<string, Typist> }) {
  const { snap } = useChat();
  const names = [...typing.values()].map((t) => shownName(snap.people, t.userId, t.username).name).sort();
  return (
    <div className="typing" aria-live="polite" data-testid="typing">
      {typingText(names)}
    </div>
  );
}
