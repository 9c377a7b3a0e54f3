// The people the user shares rooms with: their names (for display) and presence.
//
// Presence comes from two kinds of source: events on the stream, and lists read with a request
// (ListOnlineUsers, ListMembers). A list may be answered after an event that is newer than it, so each
// event is stamped on a counter, and a list only overrides users without an event since the list was asked.

import type { User } from "../gen/chat/v1/auth_pb";
import { PresenceStatus, type UserPresence } from "../gen/chat/v1/presence_pb";

export interface Person {
  username: string;
  displayName: string;
}

export class People {
  readonly status = new Map<string, PresenceStatus>();
  readonly names = new Map<string, Person>();
  private changedAt = new Map<string, number>();
  private clock = 0;

  learn(user: User) {
    const known = this.names.get(user.id);
    const displayName = user.displayName || user.username;
    if (known?.username === user.username && known.displayName === displayName) return;
    this.names.set(user.id, { username: user.username, displayName });
  }

  /** A presence change from the stream. */
  event(presence: UserPresence) {
    if (!presence.user) return;
    this.learn(presence.user);
    this.status.set(presence.user.id, presence.status);
    this.changedAt.set(presence.user.id, ++this.clock);
  }

  /** Call before asking for a list; pass the answer to apply() or applyOnline() with this mark. */
  mark(): number {
    return this.clock;
  }

  /** Statuses from a list asked at `mark`, except where an event has said something newer. */
  apply(mark: number, statuses: Iterable<readonly [string, PresenceStatus]>) {
    for (const [id, status] of statuses) {
      if ((this.changedAt.get(id) ?? 0) <= mark && status !== PresenceStatus.UNSPECIFIED) this.status.set(id, status);
    }
  }

  /** ListOnlineUsers' answer: these users are online or away; everyone else known here is offline. */
  applyOnline(mark: number, users: UserPresence[]) {
    const listed = new Map<string, PresenceStatus>();
    for (const p of users) {
      if (!p.user) continue;
      this.learn(p.user);
      listed.set(p.user.id, p.status);
    }
    const offline = [...this.status.keys()].filter((id) => !listed.has(id));
    this.apply(mark, [...listed, ...offline.map((id) => [id, PresenceStatus.OFFLINE] as const)]);
  }
}
