// Dates and times as people read them: "Today", "Yesterday", a weekday within the week, else a full date;
// times in the reader's locale; the full date and time for hover titles.

const DAY_MS = 86_400_000;

export function dayKey(d: Date): string {
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

function startOfDay(d: Date): number {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

/** A date separator's label. */
export function dayLabel(d: Date, now = new Date()): string {
  const days = Math.round((startOfDay(now) - startOfDay(d)) / DAY_MS);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  if (days > 1 && days < 7) return d.toLocaleDateString([], { weekday: "long" });
  const sameYear = d.getFullYear() === now.getFullYear();
  return d.toLocaleDateString([], { weekday: "long", day: "numeric", month: "long", year: sameYear ? undefined : "numeric" });
}

export function shortTime(d: Date): string {
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function fullDateTime(d: Date): string {
  return d.toLocaleString([], { dateStyle: "full", timeStyle: "short" });
}
