// Scrolling of the timeline, which scrolls inside its own panel:
// - it opens at the newest entry and stays at the bottom while the reader is there (also when the panel
//   resizes, e.g. the message box grows or a phone keyboard opens);
// - near the top, the next older page loads, and the view keeps its place: the entry that was first stays
//   where it was on screen (scrollTop moves by as much as its content moved), before the browser paints;
// - when the reader is scrolled up and something arrives, `newBelow` turns on (a "new messages" button);
// - when the loaded entries do not fill the panel, older pages load until they do;
// - `jumpTo(seq)` (a reply's quote) loads older pages until the entry is there, scrolls it to the middle and
//   highlights it for a moment (`data-flash`, set on the element so that no render is needed).

import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import type { Message } from "../gen/chat/v1/messages_pb";
import type { ChatStore, RoomState } from "../store/chat";

/** Within this many pixels of the bottom counts as "at the bottom". */
const BOTTOM_SLACK = 48;
/** Older entries load once the reader is within this many pixels of the top. */
const TOP_SLACK = 400;
/** How long a jumped-to entry stays highlighted. */
const FLASH_MS = 2000;

export function useTimelineScroll(store: ChatStore, state: RoomState, entries: Message[], selfId: string) {
  const ref = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const anchor = useRef<{ seq: bigint; y: number } | null>(null);
  const top = useRef("");
  const lastSeq = useRef<bigint | null>(null);
  const jumping = useRef<bigint | null>(null);
  const [newBelow, setNewBelow] = useState(false);
  const { loaded, hasOlder } = state;
  const roomId = state.room.id;

  const loadOlder = useCallback(() => {
    if (!loaded || !hasOlder) return;
    store.loadOlder(roomId).catch((e) => console.warn("older messages:", e));
  }, [store, roomId, loaded, hasOlder]);

  // After every render, before paint.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const first = entries[0];
    const last = entries[entries.length - 1];
    const topNow = `${first?.seq ?? ""}:${loaded}:${hasOlder}`;
    const appended = last && lastSeq.current !== null && last.seq > lastSeq.current;
    // The reader's own message brings them to the bottom.
    if (appended && last.senderId === selfId) stick.current = true;
    if (stick.current) {
      el.scrollTop = el.scrollHeight;
    } else if (topNow !== top.current && anchor.current) {
      const y = contentY(el, anchor.current.seq);
      if (y !== null) el.scrollTop += y - anchor.current.y;
    }
    if (appended && !stick.current) setNewBelow(true);
    top.current = topNow;
    lastSeq.current = last?.seq ?? null;
    const y = first ? contentY(el, first.seq) : null;
    anchor.current = first && y !== null ? { seq: first.seq, y } : null;
    if (jumping.current !== null && reveal(el, jumping.current)) {
      jumping.current = null;
      stick.current = false;
    }
    if (loaded && hasOlder && el.scrollHeight <= el.clientHeight + TOP_SLACK) loadOlder();
  });

  // A resized panel keeps the bottom in view when the reader was there.
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const observer = new ResizeObserver(() => {
      if (stick.current) el.scrollTop = el.scrollHeight;
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const onScroll = () => {
    const el = ref.current;
    if (!el) return;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < BOTTOM_SLACK;
    if (stick.current) setNewBelow(false);
    if (el.scrollTop < TOP_SLACK) loadOlder();
  };

  const toBottom = () => {
    const el = ref.current;
    if (!el) return;
    stick.current = true;
    el.scrollTop = el.scrollHeight;
    setNewBelow(false);
  };

  const jumpTo = useCallback(
    async (seq: bigint) => {
      const el = ref.current;
      if (!el) return;
      stick.current = false;
      if (reveal(el, seq)) return;
      // Revealed by the layout effect once the page that holds it is rendered.
      jumping.current = seq;
      const found = await store.loadBack(roomId, Number(seq)).catch((e) => {
        jumping.current = null;
        throw e;
      });
      if (!found) jumping.current = null;
    },
    [store, roomId],
  );

  return { ref, onScroll, newBelow, toBottom, jumpTo };
}

/** Scrolls an entry to the middle of the timeline and highlights it; false when it is not rendered. */
function reveal(timeline: HTMLElement, seq: bigint): boolean {
  const entry = timeline.querySelector<HTMLElement>(`[data-seq="${seq}"]`);
  if (!entry) return false;
  // Not scrollIntoView, which may also scroll the page's own (overflow: hidden) boxes.
  const box = entry.getBoundingClientRect();
  const view = timeline.getBoundingClientRect();
  timeline.scrollTop += box.top - view.top - (timeline.clientHeight - box.height) / 2;
  entry.dataset.flash = "";
  setTimeout(() => delete entry.dataset.flash, FLASH_MS);
  return true;
}

/**
 * Where an entry's content (its bubble, which keeps its place when the entry loses its name line to a
 * group) is in the timeline's scrolled content, in pixels from the top; null when it is not rendered.
 */
function contentY(timeline: HTMLElement, seq: bigint): number | null {
  const entry = timeline.querySelector(`[data-seq="${seq}"]`);
  const node = entry?.querySelector(".bubble") ?? entry;
  if (!node) return null;
  return node.getBoundingClientRect().top - timeline.getBoundingClientRect().top + timeline.scrollTop;
}
