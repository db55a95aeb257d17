/**
 * The migration runner: `migrations/NNNN_name.sql` (listed in `migrations/mod.ts`) applied in order, each once, inside a transaction, and
 * recorded in `_migrations`.
 *
 * Rollback policy: every release changes the schema additively (new tables, new nullable columns, new
 * indexes), so an older binary can use a database a newer one has migrated: migrations it does not know are
 * left as they are and its own run as usual. A release that makes a change older binaries cannot live with
 * records it in `_requires` (the version needed and why), and every binary older than that refuses the
 * database with a message naming that version. A migration recorded under a number this build knows by
 * another name is a different history, and is refused too.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { StoreError } from "../core/errors.ts";
import * as MIGRATION_FILES from "../migrations/mod.ts";
import { compareVersions, VERSION } from "../core/version.ts";

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

/** The marker of an incompatible change: the oldest version that can use the database, and why. */
export interface Requirement {
  min_version: string;
  reason: string;
}

const REQUIRES_DDL =
  "CREATE TABLE IF NOT EXISTS _requires (min_version TEXT NOT NULL, reason TEXT NOT NULL, " +
  "set_at TEXT NOT NULL)";

function hasTable(db: DatabaseSync, name: string): boolean {
  const row = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?").get(
    name,
  ) as {
    n: number;
  };
  return row.n > 0;
}

/** The migrations `db` records (none when it has no `_migrations` table yet). */
export function appliedMigrations(db: DatabaseSync): { version: number; name: string }[] {
  if (!hasTable(db, "_migrations")) return [];
  return db.prepare("SELECT version, name FROM _migrations ORDER BY version").all() as {
    version: number;
    name: string;
  }[];
}

/** The strictest incompatibility marker `db` records, if any. */
export function requirement(db: DatabaseSync): Requirement | undefined {
  if (!hasTable(db, "_requires")) return undefined;
  const rows = db.prepare("SELECT min_version, reason FROM _requires").all() as unknown as Requirement[];
  return rows.reduce<Requirement | undefined>(
    (max, r) => (max === undefined || compareVersions(r.min_version, max.min_version) > 0 ? r : max),
    undefined,
  );
}

/**
 * Checks that this build (`version`) may use `db`: no incompatibility marker above it, and no migration this
 * build knows under another name. Unknown migrations are additive by policy and fine. Reads only.
 *
 * @throws {StoreError} naming the version needed, when it may not.
 */
export function checkCompatible(
  db: DatabaseSync,
  migrations: Migration[],
  file: string,
  version = VERSION,
): void {
  const req = requirement(db);
  if (req && compareVersions(version, req.min_version) < 0) {
    throw new StoreError(
      `${file} was written by a newer version of Halton Meter and needs version ${req.min_version} or newer ` +
        `(${req.reason}); this is ${version}. It was left untouched`,
      `Install halton-meter ${req.min_version} or newer again and run 'halton-meter init'; nothing was lost.`,
    );
  }
  const known = new Map(migrations.map((m) => [m.version, m.name]));
  const clash = appliedMigrations(db).find((a) => known.has(a.version) && known.get(a.version) !== a.name);
  if (clash) {
    throw new StoreError(
      `${file} was written by another version of Halton Meter (it has migration ${clash.name} where this ` +
        `version has ${known.get(clash.version)}); it was left untouched`,
      "Install the version that wrote it again, or point HALTON_METER_HOME at another folder.",
    );
  }
}

/** The migrations of `migrations` that `db` has not applied yet. */
export function pendingMigrations(db: DatabaseSync, migrations: Migration[]): Migration[] {
  const done = new Set(appliedMigrations(db).map((a) => a.version));
  return migrations.filter((m) => !done.has(m.version));
}

/**
 * Brings `db` up to date with `migrations`; returns the names it applied. Migrations the database records
 * but this build does not know (a newer release's, additive by policy) are left as they are.
 *
 * @throws {StoreError} when the database is marked as needing a newer version, or its history clashes.
 */
export function migrate(db: DatabaseSync, migrations: Migration[], file: string): string[] {
  // Checked before anything is written: a refused database is left exactly as it was.
  checkCompatible(db, migrations, file);
  db.exec(
    "CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
  );
  db.exec(REQUIRES_DDL);
  const ran: string[] = [];
  for (const m of pendingMigrations(db, migrations)) {
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
