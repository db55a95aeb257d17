/**
 * The CSV export of a project's calls, streamed page by page so a large project neither sits in memory nor
 * holds the daemon's thread for longer than one page's query.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { REQUEST_FIELDS, type RequestItem, type RequestQuery, requestRows } from "./requests.ts";

/** Calls read per page of the export. */
const PAGE = 1000;

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break; null is empty. */
export function csvField(value: string | number | boolean | null): string {
  if (value === null) return "";
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function line(item: RequestItem): string {
  return REQUEST_FIELDS.map((f) => csvField(item[f])).join(",") + "\r\n";
}

/** The header line and then every call of the query, newest first, as UTF-8 CSV. */
export function requestsCsv(
  db: DatabaseSync,
  q: Omit<RequestQuery, "limit" | "after">,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let after: RequestQuery["after"];
  let header = true;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      let text = "";
      if (header) {
        text = REQUEST_FIELDS.join(",") + "\r\n";
        header = false;
      }
      const { items, more } = requestRows(db, { ...q, after, limit: PAGE });
      text += items.map(line).join("");
      controller.enqueue(encoder.encode(text));
      const last = items.at(-1);
      if (!more || !last) controller.close();
      else after = { requested_at: last.requested_at, id: last.id };
    },
  });
}
