/** "3 minutes ago", for a person reading in a terminal. */
export function relativeTime(iso: string, now: Date): string {
  const secs = Math.round((now.getTime() - Date.parse(iso)) / 1000);
  if (secs < 0) return secs > -60 ? "just now" : "in the future";
  if (secs < 10) return "just now";
  const units: [number, string][] = [
    [60, "second"],
    [60, "minute"],
    [24, "hour"],
    [30, "day"],
    [12, "month"],
    [Number.POSITIVE_INFINITY, "year"],
  ];
  let value = secs;
  for (const [size, unit] of units) {
    if (value < size) return `${value} ${unit}${value === 1 ? "" : "s"} ago`;
    value = Math.floor(value / size);
  }
  return "long ago";
}

/** `2026-11-27 05:10:44 UTC`, or with the local offset (`+01:00`) when TZ is not UTC. */
export function absoluteTime(iso: string): string {
  const d = new Date(iso);
  const offsetMin = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + offsetMin * 60_000).toISOString().slice(0, 19).replace("T", " ");
  if (offsetMin === 0) return `${local} UTC`;
  const sign = offsetMin > 0 ? "+" : "-";
  const abs = Math.abs(offsetMin);
  return `${local} ${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}
