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
import { makePrivateDir, makePrivateFile, PRIVATE_FILE } from "../core/private.ts";
import { bundledMigrations, checkCompatible, migrate, type Migration, pendingMigrations } from "./migrate.ts";
import { damagedDatabaseError, moveAsideHint } from "./failure.ts";
import { folderUnwritable } from "../core/writable.ts";

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
        moveAsideHint(file),
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
  /**
   * Run `PRAGMA quick_check` first and refuse a damaged database (the daemon at start): rows are never
   * written blindly into a file with corrupted pages.
   */
  checkIntegrity?: boolean;
  migrations?: Migration[];
}

/**
 * Opens the database, creating and migrating it when opened for writing.
 *
 * @throws {StoreError} for a non-SQLite file, a damaged one, a newer database, or a read-only open of a missing
 * or outdated one.
 */
export function openStore(file: string, options: OpenStoreOptions = {}): DatabaseSync {
  try {
    return openUnchecked(file, options);
  } catch (e) {
    throw damagedDatabaseError(e, file) ?? e;
  }
}

/**
 * Runs `PRAGMA quick_check` on `db`.
 *
 * @throws {StoreError} naming `file` and the first problem SQLite found, with the next step.
 */
export function assertIntact(db: DatabaseSync, file: string): void {
  let problems: string[];
  try {
    problems = (db.prepare("PRAGMA quick_check(5)").all() as { quick_check: string }[]).map((r) =>
      r.quick_check
    );
  } catch (e) {
    throw damagedDatabaseError(e, file) ?? e;
  }
  if (problems.length === 1 && problems[0] === "ok") return;
  throw new StoreError(`${file} is corrupted (SQLite's quick_check: ${problems[0]})`, moveAsideHint(file));
}

function openUnchecked(file: string, options: OpenStoreOptions): DatabaseSync {
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
  try {
    return openWritable(file, exists, migrations, options);
  } catch (e) {
    // SQLite says only "unable to open database file" of a read-only or full folder: name the cause.
    const blocked = folderUnwritable(dirname(file));
    if (blocked) throw new StoreError(`${file} cannot be written: ${blocked.reason}`, blocked.next, e);
    throw e;
  }
}

function openWritable(
  file: string,
  exists: boolean,
  migrations: Migration[],
  options: OpenStoreOptions,
): DatabaseSync {
  makePrivateDir(dirname(file));
  // SQLite gives the WAL and SHM files the database file's mode: a database made 0600 keeps all three private.
  if (!exists) {
    try {
      Deno.writeFileSync(file, new Uint8Array(), { mode: PRIVATE_FILE, createNew: true });
    } catch (e) {
      // Another process made it first: it is checked like any existing file when SQLite opens it.
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
  }
  for (const f of [file, `${file}-wal`, `${file}-shm`]) makePrivateFile(f);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file, { timeout: 5000 });
  } catch (e) {
    throw new StoreError(`${file} cannot be opened: ${(e as Error).message}`, undefined, e);
  }
  try {
    if (options.checkIntegrity && exists) assertIntact(db, file);
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
    migrate(db, migrations, file);
    return db;
  } catch (e) {
    db.close();
    if (e instanceof StoreError) throw e;
    throw damagedDatabaseError(e, file) ??
      new StoreError(`${file} cannot be used: ${(e as Error).message}`, undefined, e);
  }
}

/**
 * What is wrong with the database at `file`, read-only and without migrating: not SQLite, or damaged
 * (`PRAGMA quick_check`). Undefined when it is intact or does not exist yet. For `status` while no daemon runs.
 */
export function databaseProblem(file: string): StoreError | undefined {
  let db: DatabaseSync | undefined;
  try {
    if (!assertSqliteFile(file)) return undefined;
    db = new DatabaseSync(file, { readOnly: true, timeout: 1000 });
    assertIntact(db, file);
    return undefined;
  } catch (e) {
    if (e instanceof StoreError) return e;
    return damagedDatabaseError(e, file);
  } finally {
    db?.close();
  }
}
