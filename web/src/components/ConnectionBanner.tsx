// Where the connection stands, at the top of the screen on every size: nothing while live; "Connecting…"
// or "Reconnecting…" with the countdown to the next try and a button to try at once otherwise. The
// live region is always in the page so that screen readers hear each change.

import { useChat } from "../hooks/useChat";
import { useNow } from "../hooks/useNow";

export function ConnectionBanner() {
  const { snap, store } = useChat();
  const { phase, retryAt, error } = snap.connection;
  const now = useNow(retryAt !== null);
  const seconds = retryAt === null ? null : Math.max(1, Math.ceil((retryAt - now) / 1000));
  const live = phase === "live";
  // An attempt that follows no failure (the first, or one made at once after a refreshed token) gets a
  // moment before the banner shows, so that a quick one does not flash it.
  const quiet = retryAt === null && !error;

  return (
    <div
      role="status"
      className={`conn-banner ${live ? "live" : phase} ${quiet ? "quiet" : ""}`}
      data-testid="connection-banner"
      data-phase={phase}
    >
      {!live && (
        <>
          <span className="conn-text">
            <strong>{phase === "connecting" ? "Connecting…" : "Reconnecting…"}</strong>
            {seconds !== null && <> (retrying in {seconds} s)</>}
            {error && <span className="conn-error"> {error}</span>}
          </span>
          {retryAt !== null && (
            <button className="small" onClick={store.retryNow}>
              Retry now
            </button>
          )}
        </>
      )}
    </div>
  );
}
