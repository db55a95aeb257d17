/**
 * The migration runner: `migrations/NNNN_name.sql` (listed in `migrations/mod.ts`) applied in order, each
 * once, inside a transaction, and recorded in `_migrations`. A database that records a migration this build does not know was written by a
 * newer version: it is refused and left as it is.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { StoreError } from "../core/errors.ts";
import * as MIGRATION_FILES from "../migrations/mod.ts";

/** One migration file. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The migrations bundled with this build, in order: those `migrations/mod.ts` lists (a file there that it
 * does not list is not part of the build).
 *
 * @throws {StoreError} when a listed name is not `NNNN_name.sql` or two share a number.
 */
export function bundledMigrations(files: Readonly<Record<string, string>> = MIGRATION_FILES): Migration[] {
  const out: Migration[] = [];
  for (const [name, sql] of Object.entries(files)) {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(name);
    if (!m) throw new StoreError(`migration name '${name}' is not NNNN_name.sql`);
    out.push({ version: Number(m[1]), name, sql });
  }
  out.sort((a, b) => a.version - b.version);
  const twice = out.find((m, i) => i > 0 && out[i - 1].version === m.version);
  if (twice) throw new StoreError(`two migrations share number ${twice.version}: ${twice.name}`);
  return out;
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
