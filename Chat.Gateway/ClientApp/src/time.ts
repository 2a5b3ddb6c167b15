// How the page says when: "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago", then a date.
const minute = 60_000;
const hour = 60 * minute;
const day = 24 * hour;

export function relativeTime(when: Date | string, now: Date = new Date()): string {
  const at = typeof when === 'string' ? new Date(when) : when;
  if (Number.isNaN(at.getTime())) return '';
  const ago = now.getTime() - at.getTime();
  // A clock a little ahead of ours is "just now", not "in 3 s".
  if (ago < 45_000) return 'just now';
  if (ago < hour) return `${Math.max(1, Math.round(ago / minute))} min ago`;
  if (ago < day) return `${Math.floor(ago / hour)} h ago`;
  if (ago < 2 * day) return 'yesterday';
  if (ago < 7 * day) return `${Math.floor(ago / day)} days ago`;
  const sameYear = at.getFullYear() === now.getFullYear();
  return at.toLocaleDateString(undefined, sameYear ? { day: 'numeric', month: 'short' } : { day: 'numeric', month: 'short', year: 'numeric' });
}

/** Durations in the comparison: "840 ms", "1.31 s", "–" when unknown. */
export function ms(value: number | null | undefined): string {
  if (value == null || Number.isNaN(value)) return '–';
  return value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(2)} s`;
}

/** A title from a first message, as the server's list makes it: one line, cut at a word, at most 60 characters. */
export function shortTitle(text: string, max = 60): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line.length <= max) return line;
  const cut = line.lastIndexOf(' ', max - 1);
  const end = cut >= max / 2 ? cut : max - 1;
  return `${line.slice(0, end).trimEnd()}…`;
}
