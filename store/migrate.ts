/**
 * The migration runner: `migrations/NNNN_name.sql` applied in order, each once, inside a transaction, and
 * recorded in `_migrations`. A database that records a migration this build does not know was written by a
 * newer version: it is refused and left as it is.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { StoreError } from "../core/errors.ts";

/** One migration file. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATIONS_DIR = new URL("../migrations/", import.meta.url);

/** The migrations bundled with this build, in order (read from `migrations/`, which `deno compile` embeds). */
export function bundledMigrations(dir: URL = MIGRATIONS_DIR): Migration[] {
  const out: Migration[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(entry.name);
    if (!m) continue;
    out.push({
      version: Number(m[1]),
      name: entry.name,
      sql: Deno.readTextFileSync(new URL(entry.name, dir)),
    });
  }
  return out.sort((a, b) => a.version - b.version);
}

/**
 * Brings `db` up to date with `migrations`; returns the names it applied.
 *
 * @throws {StoreError} when the database records a migration unknown to this build.
 */
export function migrate(db: DatabaseSync, migrations: Migration[], file: string): string[] {
  db.exec(
    "CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
  );
  const applied = db.prepare("SELECT version, name FROM _migrations ORDER BY version").all() as {
    version: number;
    name: string;
  }[];
  const known = new Map(migrations.map((m) => [m.version, m.name]));
  const unknown = applied.filter((a) => known.get(a.version) !== a.name);
  if (unknown.length) {
    throw new StoreError(
      `${file} was written by a newer version of Halton Meter (it has migration ${
        unknown[0].name
      }, which this version does not know); it was left untouched`,
      "Install the newer halton-meter again, or point HALTON_METER_HOME at another folder.",
    );
  }
  const done = new Set(applied.map((a) => a.version));
  const ran: string[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(m.sql);
      db.prepare("INSERT INTO _migrations (version, name, applied_at) VALUES (?, ?, ?)").run(
        m.version,
        m.name,
        new Date().toISOString(),
      );
      db.exec("COMMIT");
    } catch (e) {
      db.exec("ROLLBACK");
      throw new StoreError(`migration ${m.name} failed on ${file}: ${(e as Error).message}`, undefined, e);
    }
    ran.push(m.name);
  }
  return ran;
}
