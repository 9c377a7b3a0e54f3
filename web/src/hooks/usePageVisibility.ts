// Follows the Page Visibility API: a shown tab reads its open room (store.setVisible), and a tab hidden
// for a while shows its user as away until it is shown again. The delay is 60 s, or the number of
// milliseconds in localStorage `parley.awayAfterMs` (the browser test sets it short).

import { useEffect } from "react";
import { awayDelayMs } from "../store/local";
import type { ChatStore } from "../store/chat";

export function usePageVisibility(store: ChatStore) {
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onChange = () => {
      const visible = document.visibilityState !== "hidden";
      store.setVisible(visible);
      clearTimeout(timer);
      if (visible) store.setAway(false);
      else timer = setTimeout(() => store.setAway(true), awayDelayMs());
    };
    document.addEventListener("visibilitychange", onChange);
    if (document.visibilityState === "hidden") onChange();
    return () => {
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onChange);
    };
  }, [store]);
}
