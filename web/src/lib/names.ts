// One name per person, everywhere: the display name when the app knows it (from member lists, direct
// peers, presence and the session), else the display name a message carries, else the username; the
// username is shown on hover.

import type { Person } from "../store/chat";

export interface ShownName {
  /** What to show. */
  name: string;
  /** For the `title` attribute: `@username`. */
  title: string;
}

/** `displayName`: what an entry says the sender's display name is, used when the app knows nothing better. */
export function shownName(
  people: ReadonlyMap<string, Person>,
  userId: string,
  username: string,
  displayName = "",
): ShownName {
  const person = people.get(userId);
  const handle = person?.username || username;
  return { name: person?.displayName || displayName || handle, title: `@${handle}` };
}
