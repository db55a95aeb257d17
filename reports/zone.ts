/**
 * Time zones for reports: the machine's zone, checking a zone name, and where a local calendar day begins as
 * an instant. Built on the runtime's own zone data (`Intl`), so daylight-saving changes and half-hour or
 * 45-minute offsets come out right without a table of our own.
 *
 * @module
 */

/** A calendar date with no zone: year, month 1-12, day 1-31. */
export interface CivilDate {
  y: number;
  m: number;
  d: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The zone this machine's clock shows (the `TZ` variable, else the system's setting). */
export function machineZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC";
}

/** The canonical name of zone `name` (`utc` → `UTC`), or undefined when the runtime knows no such zone. */
export function canonicalZone(name: string): string | undefined {
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** The local date and minute of the day of instant `ms` in `zone`. */
export function localTime(zone: string, ms: number): CivilDate & { minute: number } {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(ms))) {
    if (p.type !== "literal") parts[p.type] = Number(p.value);
  }
  return { y: parts.year, m: parts.month, d: parts.day, minute: parts.hour * 60 + parts.minute };
}

/** The local date of instant `ms` in `zone`. */
export function localDate(zone: string, ms: number): CivilDate {
  const { y, m, d } = localTime(zone, ms);
  return { y, m, d };
}

const MINUTE = 60_000;

/** Orders civil dates: negative, zero or positive. */
export function compareDates(a: CivilDate, b: CivilDate): number {
  return a.y - b.y || a.m - b.m || a.d - b.d;
}

/**
 * The first instant of local date `date` in `zone`: its midnight, or, where a daylight-saving change skips
 * midnight, the first minute that exists. Searched minute by minute over the ±16 hours any zone can be off,
 * since a zone's offset may change on that very day.
 */
export function startOfDay(zone: string, date: CivilDate): number {
  const base = Date.UTC(date.y, date.m - 1, date.d);
  let lo = base / MINUTE - 16 * 60;
  let hi = base / MINUTE + 16 * 60;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (compareDates(localDate(zone, mid * MINUTE), date) >= 0) hi = mid;
    else lo = mid + 1;
  }
  return lo * MINUTE;
}

/** `date` moved by `n` calendar days. */
export function addDays(date: CivilDate, n: number): CivilDate {
  const t = new Date(Date.UTC(date.y, date.m - 1, date.d + n));
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
}

/** The first day of the month `n` months after the one holding `date`. */
export function addMonths(date: CivilDate, n: number): CivilDate {
  const t = new Date(Date.UTC(date.y, date.m - 1 + n, 1));
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: 1 };
}

/** The Monday of the (ISO) week holding `date`. */
export function mondayOf(date: CivilDate): CivilDate {
  const weekday = new Date(Date.UTC(date.y, date.m - 1, date.d)).getUTCDay();
  return addDays(date, -((weekday + 6) % 7));
}

/** `YYYY-MM-DD`. */
export function formatDate(date: CivilDate): string {
  return `${String(date.y).padStart(4, "0")}-${String(date.m).padStart(2, "0")}-${
    String(date.d).padStart(2, "0")
  }`;
}

/** The date in `YYYY-MM-DD`, or undefined when it is not a real calendar date. */
export function parseDate(text: string): CivilDate | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return undefined;
  const date = { y: Number(m[1]), m: Number(m[2]), d: Number(m[3]) };
  // 2026-02-30 would roll over to March; a date that does not come back as itself is not one.
  return formatDate(addDays(date, 0)) === text ? date : undefined;
}
