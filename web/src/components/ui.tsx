// Small pieces shared by several views.

import { PresenceStatus } from "../gen/chat/v1/presence_pb";

export function Alert({ error }: { error: string | null }) {
  return error ? (
    <p className="error" role="alert">
      {error}
    </p>
  ) : null;
}

export function presenceName(status: PresenceStatus | undefined): "online" | "away" | "offline" {
  return status === PresenceStatus.ONLINE ? "online" : status === PresenceStatus.AWAY ? "away" : "offline";
}

export function Dot({ status }: { status: PresenceStatus | undefined }) {
  const name = presenceName(status);
  return <span className={`dot ${name}`} role="img" aria-label={name} title={name} data-presence={name} />;
}

export function LockIcon() {
  return (
    <svg width="11" height="12" viewBox="0 0 11 12" aria-hidden="true">
      <rect x="1" y="5" width="9" height="7" rx="1.5" fill="currentColor" />
      <path d="M3 5V3.5a2.5 2.5 0 0 1 5 0V5" fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
  );
}
