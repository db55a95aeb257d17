/**
 * The one definition of a time window, for `report`, `pricing recost`, the read API and the page:
 *
 * - `Nh`: the last N hours, back from now.
 * - `Nd`, `Nw`, `Nm`: the last N local days, weeks (Monday first) or months, the current one included, from
 *   the first one's midnight to now: `7d` is today so far and the six whole days before it.
 * - `YYYY-MM-DD`: from that local day's midnight to now.
 * - `--from D --to D`: whole local days, both ends included (`--from D` alone: to now).
 *
 * Days are those of a time zone (the machine's unless one is chosen). Every window is a half-open range of
 * instants `[from, to)`. The window before one of N periods is the N whole periods before it.
 *
 * @module
 */
import { UsageError } from "../core/errors.ts";
import {
  addDays,
  addMonths,
  canonicalZone,
  type CivilDate,
  compareDates,
  formatDate,
  localDate,
  mondayOf,
  parseDate,
  startOfDay,
} from "./zone.ts";

/** The calendar periods a window can be cut into. */
export type PeriodUnit = "day" | "week" | "month";

/** Every {@linkcode PeriodUnit}. */
export const PERIOD_UNITS: readonly PeriodUnit[] = ["day", "week", "month"];

/** A half-open range of instants `[from, to)`, ISO-8601 UTC with milliseconds (the `requested_at` format). */
export interface TimeRange {
  from: string;
  to: string;
}

/** A window: its range, the zone its days belong to, and how to name it and the one before it. */
export interface TimeWindow extends TimeRange {
  /** IANA zone whose days the window counts (`America/Los_Angeles`, `UTC`). */
  zone: string;
  /** `last 7 days`, `last 24 hours`, `since 2026-11-01`, `2026-11-01 to 2026-11-07`. */
  label: string;
  /**
   * How the window just before this one is found: the same number of calendar periods, or the same number
   * of milliseconds for windows that are not whole periods.
   */
  span: { unit: PeriodUnit; n: number } | { unit: "ms"; n: number };
}

/** One period of a window: its key (`YYYY-MM-DD`, the week's Monday, or `YYYY-MM`) and its part of the window. */
export interface Period extends TimeRange {
  key: string;
}

const HOUR_MS = 3_600_000;
/** The most periods a window may be cut into, so that a typo like `--since 99999d` is refused, not run. */
export const MAX_PERIODS = 3700;

const UNITS: Record<string, PeriodUnit | "hour"> = {
  h: "hour",
  d: "day",
  w: "week",
  m: "month",
  mo: "month",
};

const SPAN_HELP = "a span like 24h, 7d, 2w or 1m (hours, days, weeks, months), or a date YYYY-MM-DD";

/**
 * The zone named by `name` (a flag or config value), as the user wrote it when the runtime knows it (the
 * canonical form may be an older name: Asia/Kolkata canonicalises to Asia/Calcutta).
 *
 * @throws {UsageError} for a zone the runtime does not know.
 */
export function checkZone(name: string, who: string): string {
  const zone = canonicalZone(name);
  if (zone === undefined) {
    throw new UsageError(
      `${who}: unknown time zone '${name}'`,
      "Use an IANA name such as UTC, Europe/Paris, America/Los_Angeles or Asia/Kolkata.",
    );
  }
  return zone === "UTC" ? zone : name;
}

/**
 * Parses a `--since` value (see the module's description) into a window ending now or at the end of the
 * current period.
 *
 * @throws {UsageError} naming `who` (the command) for anything else, a zero span, or a date after today.
 */
export function parseSince(value: string, now: Date, zone: string, who: string): TimeWindow {
  const rel = /^(\d+)(h|d|w|mo|m)$/.exec(value.trim().toLowerCase());
  if (rel) {
    const n = Number(rel[1]);
    const unit = UNITS[rel[2]];
    if (n < 1) throw new UsageError(`${who}: --since needs a span of at least 1, not '${value}'`);
    if (unit === "hour") {
      if (n > MAX_PERIODS * 24) throw tooLong(who, value);
      return {
        from: new Date(now.getTime() - n * HOUR_MS).toISOString(),
        to: now.toISOString(),
        zone,
        label: n === 1 ? "last hour" : `last ${n} hours`,
        span: { unit: "ms", n: n * HOUR_MS },
      };
    }
    if (n > MAX_PERIODS) throw tooLong(who, value);
    const current = periodStart(unit, localDate(zone, now.getTime()));
    const first = shift(unit, current, -(n - 1));
    return {
      from: iso(startOfDay(zone, first)),
      to: now.toISOString(),
      zone,
      label: n === 1 ? (unit === "day" ? "today" : `this ${unit}`) : `last ${n} ${unit}s`,
      span: { unit, n },
    };
  }
  const day = parseDate(value);
  if (!day) {
    throw new UsageError(`${who}: --since expects ${SPAN_HELP}; got '${value}'`, `For example: --since 30d`);
  }
  const today = localDate(zone, now.getTime());
  if (compareDates(day, today) > 0) {
    throw new UsageError(`${who}: --since ${value} is after today (${formatDate(today)}, ${zone})`);
  }
  return { ...daysWindow(day, today, zone, `since ${value}`, who), to: now.toISOString() };
}

/**
 * The window of `--from D [--to D]`: whole local days, both ends included; without `--to`, through today.
 *
 * @throws {UsageError} for a malformed date or a `--to` before `--from`.
 */
export function parseFromTo(
  from: string,
  to: string | undefined,
  now: Date,
  zone: string,
  who: string,
): TimeWindow {
  const first = parseDate(from);
  if (!first) throw badDate(who, "--from", from);
  const last = to === undefined ? localDate(zone, now.getTime()) : parseDate(to);
  if (!last) throw badDate(who, "--to", to!);
  if (compareDates(last, first) < 0) {
    throw new UsageError(
      `${who}: --to ${to ?? formatDate(last)} is before --from ${from}`,
      "Swap the two dates.",
    );
  }
  if (to === undefined) {
    return { ...daysWindow(first, last, zone, `since ${from}`, who), to: now.toISOString() };
  }
  return daysWindow(first, last, zone, from === to ? from : `${from} to ${to}`, who);
}

function daysWindow(first: CivilDate, last: CivilDate, zone: string, label: string, who: string): TimeWindow {
  const days = Math.round(
    (Date.UTC(last.y, last.m - 1, last.d) - Date.UTC(first.y, first.m - 1, first.d)) /
      86_400_000,
  ) + 1;
  if (days > MAX_PERIODS) {
    throw new UsageError(`${who}: ${label} is ${days} days, more than the ${MAX_PERIODS} a report covers`);
  }
  return {
    from: iso(startOfDay(zone, first)),
    to: iso(startOfDay(zone, addDays(last, 1))),
    zone,
    label,
    span: { unit: "day", n: days },
  };
}

/** The window just before `w`, as long as it in its own unit (7 days before 7 days, a month before a month). */
export function previousWindow(w: TimeWindow): TimeWindow {
  if (w.span.unit === "ms") {
    const from = Date.parse(w.from);
    return { ...w, from: iso(from - w.span.n), to: w.from, label: `previous ${w.label}` };
  }
  const first = localDate(w.zone, Date.parse(w.from));
  const start = periodStart(w.span.unit, first);
  return {
    ...w,
    from: iso(startOfDay(w.zone, shift(w.span.unit, start, -w.span.n))),
    to: w.from,
    label: `previous ${w.label}`,
  };
}

/**
 * The periods of `unit` that `w` touches, oldest first, each cut to the window: every period is there, those
 * without calls too, so two windows of the same span have the same number of rows.
 */
export function periodsOf(w: TimeRange & { zone: string }, unit: PeriodUnit): Period[] {
  const out: Period[] = [];
  const end = Date.parse(w.to);
  let start = periodStart(unit, localDate(w.zone, Date.parse(w.from)));
  while (out.length <= MAX_PERIODS) {
    const next = shift(unit, start, 1);
    const lo = Math.max(startOfDay(w.zone, start), Date.parse(w.from));
    const hi = Math.min(startOfDay(w.zone, next), end);
    if (lo >= end) break;
    if (lo < hi) out.push({ key: periodKey(unit, start), from: iso(lo), to: iso(hi) });
    start = next;
  }
  return out;
}

/** The first day of the period of `unit` holding `date`. */
function periodStart(unit: PeriodUnit, date: CivilDate): CivilDate {
  return unit === "day" ? date : unit === "week" ? mondayOf(date) : { ...date, d: 1 };
}

/** The start of the period `n` periods of `unit` after the one starting on `start`. */
function shift(unit: PeriodUnit, start: CivilDate, n: number): CivilDate {
  return unit === "day" ? addDays(start, n) : unit === "week" ? addDays(start, 7 * n) : addMonths(start, n);
}

/** `YYYY-MM-DD` for a day or a week (its Monday), `YYYY-MM` for a month. */
function periodKey(unit: PeriodUnit, start: CivilDate): string {
  return unit === "month" ? formatDate(start).slice(0, 7) : formatDate(start);
}

/**
 * The window as people read it: `2026-11-30 → 2026-12-06 (Europe/Paris)` for whole days,
 * `2026-12-05 09:00 → 2026-12-06 09:00 (UTC)` otherwise, in the window's own zone.
 */
export function describeWindow(w: TimeWindow): string {
  const from = Date.parse(w.from);
  const to = Date.parse(w.to);
  const first = localDate(w.zone, from);
  const lastDay = localDate(w.zone, to - 1);
  const whole = startOfDay(w.zone, first) === from && startOfDay(w.zone, addDays(lastDay, 1)) === to;
  if (whole) {
    const a = formatDate(first);
    const b = formatDate(lastDay);
    return `${a === b ? a : `${a} → ${b}`} (${w.zone})`;
  }
  return `${localMinute(w.zone, from)} → ${localMinute(w.zone, to)} (${w.zone})`;
}

function localMinute(zone: string, ms: number): string {
  const t = new Intl.DateTimeFormat("sv-SE", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  }).format(new Date(ms));
  return t;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function tooLong(who: string, value: string): UsageError {
  return new UsageError(`${who}: --since ${value} reaches back more than ${MAX_PERIODS} days`);
}

function badDate(who: string, flag: string, value: string): UsageError {
  return new UsageError(
    `${who}: ${flag} expects a date YYYY-MM-DD; got '${value}'`,
    "For example: --from 2026-11-01 --to 2026-11-07",
  );
}
