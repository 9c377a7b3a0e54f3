// Tells the room's other members that the user is typing: SetTyping(true) while they type (at most every
// 2.5 s; the server folds closer calls and lets the indicator lapse by itself), SetTyping(false) when the
// box is emptied, or left empty, or the room is closed. Sending a message ends it on the server.

import { useCallback, useEffect, useRef } from "react";
import { messages } from "../api/client";
import { describeError } from "../api/errors";

const EVERY_MS = 2500;

export function useTypingNotice(roomId: string) {
  const last = useRef(0);
  const on = useRef(false);

  const tell = useCallback(
    (typing: boolean) => {
      on.current = typing;
      last.current = typing ? Date.now() : 0;
      // Best effort: a lost indicator is not worth an error banner.
      messages.setTyping({ roomId, typing }).catch((e) => console.warn("typing:", describeError(e)));
    },
    [roomId],
  );

  useEffect(
    () => () => {
      if (on.current) tell(false);
    },
    [tell],
  );

  return {
    /** The box's text changed. */
    changed: (text: string) => {
      if (text.trim()) {
        if (Date.now() - last.current >= EVERY_MS) tell(true);
      } else if (on.current) tell(false);
    },
    /** The box lost focus. */
    left: (text: string) => {
      if (!text.trim() && on.current) tell(false);
    },
    /** A message was sent: the server has ended the indicator. */
    sent: () => {
      on.current = false;
      last.current = 0;
    },
  };
}
