/**
 * SQLite's "this file is damaged" errors, turned into a {@linkcode StoreError} that names the file and the next
 * step (move it aside; nothing is deleted). Pure and free of `node:sqlite`, so `main.ts` can map an error met
 * by any command without loading the database code.
 *
 * @module
 */
import { StoreError } from "../core/errors.ts";

/** SQLite's result codes for a damaged file (SQLITE_CORRUPT, SQLITE_NOTADB). */
const DAMAGED = new Set([11, 26]);

/** The next step for a damaged database at `file`. */
export function moveAsideHint(file: string): string {
  return `Stop the meter ('halton-meter stop'), move ${file} aside (e.g. to ${file}.broken; nothing is deleted), ` +
    "then start it again: a new database is made and metering resumes.";
}

/** A {@linkcode StoreError} for `e` when it is SQLite saying the database at `file` is damaged; else undefined. */
export function damagedDatabaseError(e: unknown, file: string): StoreError | undefined {
  const err = e as { code?: string; errcode?: number; message?: string };
  if (err?.code !== "ERR_SQLITE_ERROR" || !DAMAGED.has((err.errcode ?? 0) & 0xff)) return undefined;
  const what = (err.errcode! & 0xff) === 26 ? "is not a SQLite database" : "is corrupted";
  return new StoreError(`${file} ${what} (SQLite: ${err.message})`, moveAsideHint(file), e);
}
