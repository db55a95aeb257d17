/**
 * Opening `db.sqlite`: refuse a file that is not SQLite (never overwrite it), migrate with the one writer
 * connection, and open read-only connections for the API and `report`. WAL, `synchronous=NORMAL`, a busy
 * timeout.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { dirname } from "node:path";
import { StoreError } from "../core/errors.ts";
import { bundledMigrations, checkCompatible, migrate, type Migration, pendingMigrations } from "./migrate.ts";

const HEADER = "SQLite format 3\0";

/** Throws when `file` exists, is not empty, and does not start with the SQLite header. */
function assertSqliteFile(file: string): boolean {
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(file, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw new StoreError(
      `${file} cannot be opened: ${(e as Error).message}`,
      "Check the file's permissions.",
    );
  }
  try {
    const buf = new Uint8Array(16);
    const n = f.readSync(buf) ?? 0;
    if (n === 0) return true;
    if (new TextDecoder().decode(buf.subarray(0, n)) !== HEADER) {
      throw new StoreError(
        `${file} is not a SQLite database; Halton Meter refuses to touch it`,
        "Move the file aside (it was left as it is), then run the command again to start a new database.",
      );
    }
    return true;
  } finally {
    f.close();
  }
}

/** Options for {@linkcode openStore}. */
export interface OpenStoreOptions {
  /** Open read-only (the API, `report`); migrations are then checked, not applied. */
  readOnly?: boolean;
  migrations?: Migration[];
}

/**
 * Opens the database, creating and migrating it when opened for writing.
 *
 * @throws {StoreError} for a non-SQLite file, a newer database, or a read-only open of a missing or outdated one.
 */
export function openStore(file: string, options: OpenStoreOptions = {}): DatabaseSync {
  const exists = assertSqliteFile(file);
  const migrations = options.migrations ?? bundledMigrations();
  if (options.readOnly) {
    if (!exists) throw new StoreError(`${file} does not exist yet`, "Start the meter to create it.");
    const db = new DatabaseSync(file, { readOnly: true, timeout: 5000 });
    try {
      checkCompatible(db, migrations, file);
      if (pendingMigrations(db, migrations).length) {
        db.close();
        openStore(file, { migrations }).close();
        return new DatabaseSync(file, { readOnly: true, timeout: 5000 });
      }
      return db;
    } catch (e) {
      if (db.isOpen) db.close();
      throw e;
    }
  }
  Deno.mkdirSync(dirname(file), { recursive: true });
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file, { timeout: 5000 });
  } catch (e) {
    throw new StoreError(`${file} cannot be opened: ${(e as Error).message}`, undefined, e);
  }
  try {
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
    migrate(db, migrations, file);
    return db;
  } catch (e) {
    db.close();
    if (e instanceof StoreError) throw e;
    throw new StoreError(`${file} cannot be used: ${(e as Error).message}`, undefined, e);
  }
}
