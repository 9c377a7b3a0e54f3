// One name per person, everywhere: the display name when the app knows it (from member lists, direct
// peers, presence and the session), else the username; the username is shown on hover. Messages carry only
// the sender's username, so a sender nobody has listed yet shows as that username until a list names them.

import type { Person } from "../store/chat";

export interface ShownName {
  /** What to show. */
  name: string;
  /** For the `title` attribute: `@username`. */
  title: string;
}

export function shownName(people: ReadonlyMap<string, Person>, userId: string, username: string): ShownName {
  const person = people.get(userId);
  const handle = person?.username || username;
  return { name: person?.displayName || handle, title: `@${handle}` };
}
