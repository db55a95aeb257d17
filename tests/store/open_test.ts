import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { StoreError } from "../../core/errors.ts";
import { bundledMigrations, migrate, type Migration } from "../../store/migrate.ts";
import { databaseProblem, openStore } from "../../store/open.ts";
import { tempHome } from "../helpers/home.ts";

function appliedMigrations(db: DatabaseSync): { version: number; name: string }[] {
  return db.prepare("SELECT version, name FROM _migrations ORDER BY version").all().map((r) => ({
    version: r.version as number,
    name: r.name as string,
  }));
}

function tables(db: DatabaseSync): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
    name: string;
  }[]).map((r) => r.name);
}

async function storeError(fn: () => unknown): Promise<StoreError> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof StoreError, `expected a StoreError, got ${e}`);
    return e;
  }
  assert.fail("no error");
}

Deno.test("bundledMigrations() lists migrations/ in version order, starting with 0001_initial.sql", () => {
  const ms = bundledMigrations();
  assert.equal(ms[0].version, 1);
  assert.equal(ms[0].name, "0001_initial.sql");
  assert.match(ms[0].sql, /CREATE TABLE requests/);
  assert.deepEqual(ms.map((m) => m.version), [...ms.map((m) => m.version)].sort((a, b) => a - b));
});

Deno.test("migrations/mod.ts lists every .sql file of migrations/, with its text", () => {
  const dir = new URL("../../migrations/", import.meta.url);
  const onDisk = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".sql")).map((e) => e.name).sort();
  const listed = bundledMigrations();
  assert.deepEqual(listed.map((m) => m.name), onDisk, "a .sql file missing from migrations/mod.ts");
  for (const m of listed) assert.equal(m.sql, Deno.readTextFileSync(new URL(m.name, dir)));
});

Deno.test("bundledMigrations() refuses a misnamed migration and two with one number", async () => {
  assert.match(
    (await storeError(() => bundledMigrations({ "5_x.sql": "" }))).message,
    /'5_x\.sql' is not NNNN_name\.sql/,
  );
  assert.match(
    (await storeError(() => bundledMigrations({ "0002_b.sql": "", "0002_a.sql": "" }))).message,
    /two migrations share number 2/,
  );
});

Deno.test("openStore() creates a fresh database, in WAL mode, with every migration recorded", async () => {
  await using home = await tempHome();
  const db = openStore(home.paths.db);
  try {
    assert.deepEqual(
      appliedMigrations(db),
      bundledMigrations().map((m) => ({ version: m.version, name: m.name })),
    );
    assert.deepEqual(
      ["_migrations", "pricing_rates", "projects", "requests"].filter((t) => tables(db).includes(t)),
      ["_migrations", "pricing_rates", "projects", "requests"],
    );
    assert.equal((db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode, "wal");
  } finally {
    db.close();
  }
});

Deno.test("openStore() on an up-to-date database applies nothing again", async () => {
  await using home = await tempHome();
  openStore(home.paths.db).close();
  const db = openStore(home.paths.db);
  try {
    assert.equal(migrate(db, bundledMigrations(), home.paths.db).length, 0);
    assert.equal(appliedMigrations(db).length, bundledMigrations().length);
  } finally {
    db.close();
  }
});

Deno.test("migrate() applies only the migrations a database lacks, in order", async () => {
  await using home = await tempHome();
  const first: Migration[] = [{ version: 1, name: "0001_a.sql", sql: "CREATE TABLE a (x)" }];
  const both = [...first, { version: 2, name: "0002_b.sql", sql: "CREATE TABLE b (y)" }];
  const db = new DatabaseSync(join(home.dir, "m.sqlite"));
  try {
    assert.deepEqual(migrate(db, first, "m.sqlite"), ["0001_a.sql"]);
    assert.deepEqual(migrate(db, both, "m.sqlite"), ["0002_b.sql"]);
    assert.deepEqual(tables(db), ["_migrations", "_requires", "a", "b"]);
  } finally {
    db.close();
  }
});

Deno.test("migrate() rolls back a failing migration and records nothing for it", async () => {
  await using home = await tempHome();
  const db = new DatabaseSync(join(home.dir, "m.sqlite"));
  try {
    const broken = [{ version: 1, name: "0001_a.sql", sql: "CREATE TABLE a (x); CREATE TABLE oops (" }];
    const e = await storeError(() => migrate(db, broken, "m.sqlite"));
    assert.match(e.message, /migration 0001_a\.sql failed on m\.sqlite/);
    assert.deepEqual(tables(db), ["_migrations", "_requires"]);
    assert.deepEqual(appliedMigrations(db), []);
  } finally {
    db.close();
  }
});

Deno.test("openStore() uses a database a newer version migrated additively (a rollback), as it is", async () => {
  await using home = await tempHome();
  openStore(home.paths.db).close();
  const raw = new DatabaseSync(home.paths.db);
  raw.exec("ALTER TABLE requests ADD COLUMN future_note TEXT");
  raw.exec("INSERT INTO _migrations VALUES (999, '0999_future.sql', '2030-01-01T00:00:00.000Z')");
  raw.close();
  for (const readOnly of [false, true]) {
    const db = openStore(home.paths.db, { readOnly });
    try {
      assert.ok(appliedMigrations(db).some((m) => m.name === "0999_future.sql"), "its record is kept");
      assert.equal((db.prepare("SELECT count(*) AS n FROM requests").get() as { n: number }).n, 0);
    } finally {
      db.close();
    }
  }
});

Deno.test("openStore() refuses a database marked as needing a newer version, naming it, and leaves its bytes unchanged", async () => {
  await using home = await tempHome();
  openStore(home.paths.db).close();
  const raw = new DatabaseSync(home.paths.db);
  raw.exec("INSERT INTO _migrations VALUES (999, '0999_future.sql', '2030-01-01T00:00:00.000Z')");
  raw.exec(
    "INSERT INTO _requires VALUES ('99.0.0', 'costs moved to another table', '2030-01-01T00:00:00.000Z')",
  );
  raw.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  raw.close();
  const before = await Deno.readFile(home.paths.db);
  for (const readOnly of [false, true]) {
    const e = await storeError(() => openStore(home.paths.db, { readOnly }));
    assert.match(e.message, /written by a newer version of Halton Meter and needs version 99\.0\.0 or newer/);
    assert.match(e.message, /costs moved to another table/);
    assert.match(e.hint ?? "", /Install halton-meter 99\.0\.0 or newer/);
    assert.deepEqual(await Deno.readFile(home.paths.db), before);
  }
});

Deno.test("openStore() refuses a database whose migration history clashes with this build's", async () => {
  await using home = await tempHome();
  openStore(home.paths.db).close();
  const raw = new DatabaseSync(home.paths.db);
  raw.exec("UPDATE _migrations SET name = '0001_other.sql' WHERE version = 1");
  raw.close();
  const e = await storeError(() => openStore(home.paths.db));
  assert.match(e.message, /it has migration 0001_other\.sql where this version has 0001_initial\.sql/);
});

Deno.test("openStore() refuses a file that is not SQLite and never overwrites it", async () => {
  await using home = await tempHome();
  await Deno.mkdir(home.home, { recursive: true });
  const text = "these are my notes, not a database\n";
  await Deno.writeTextFile(home.paths.db, text);
  for (const readOnly of [false, true]) {
    const e = await storeError(() => openStore(home.paths.db, { readOnly }));
    assert.match(e.message, /is not a SQLite database; Halton Meter refuses to touch it/);
    assert.match(e.hint ?? "", /move .*db\.sqlite aside \(e\.g\. to .*\.broken; nothing is deleted\)/);
    assert.equal(await Deno.readTextFile(home.paths.db), text);
  }
  assert.deepEqual([...Deno.readDirSync(home.home)].map((e) => e.name), ["db.sqlite"]);
});

Deno.test("openStore() read-only refuses a missing database without creating it", async () => {
  await using home = await tempHome();
  const e = await storeError(() => openStore(home.paths.db, { readOnly: true }));
  assert.match(e.message, /does not exist yet/);
  await assert.rejects(Deno.stat(home.paths.db), Deno.errors.NotFound);
});

Deno.test("openStore() read-only gives a connection that cannot write", async () => {
  await using home = await tempHome();
  openStore(home.paths.db).close();
  const db = openStore(home.paths.db, { readOnly: true });
  try {
    assert.throws(() => db.exec("INSERT INTO projects VALUES ('x', 'x', 'x', 'now', NULL)"), /readonly/);
  } finally {
    db.close();
  }
});

Deno.test("openStore() read-only brings an older database up to date first", async () => {
  await using home = await tempHome();
  const old = openStore(home.paths.db, { migrations: bundledMigrations() });
  old.close();
  const next = [...bundledMigrations(), {
    version: 998,
    name: "0998_extra.sql",
    sql: "CREATE TABLE extra (x)",
  }];
  const db = openStore(home.paths.db, { readOnly: true, migrations: next });
  try {
    assert.ok(tables(db).includes("extra"));
    assert.equal(appliedMigrations(db).at(-1)?.name, "0998_extra.sql");
  } finally {
    db.close();
  }
});

Deno.test("openStore() with checkIntegrity refuses a database with a damaged page and leaves it as it was", async () => {
  await using home = await tempHome();
  const db = openStore(home.paths.db);
  db.exec("CREATE TABLE filler (x TEXT)");
  const insert = db.prepare("INSERT INTO filler VALUES (?)");
  for (let i = 0; i < 500; i++) insert.run("x".repeat(200));
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  const pages = Deno.statSync(home.paths.db).size / 4096;
  const f = Deno.openSync(home.paths.db, { write: true });
  f.seekSync((pages - 3) * 4096, Deno.SeekMode.Start);
  f.writeSync(new Uint8Array(4096).fill(0xa5));
  f.close();
  const before = await Deno.readFile(home.paths.db);
  const e = await storeError(() => openStore(home.paths.db, { checkIntegrity: true }));
  assert.match(e.message, /db\.sqlite is corrupted/);
  assert.match(e.hint ?? "", /move .*db\.sqlite aside/);
  assert.deepEqual(databaseProblem(home.paths.db)?.message, e.message);
  assert.deepEqual(await Deno.readFile(home.paths.db), before);
});

Deno.test({
  name: "openStore() makes the database, its WAL and SHM 0600 in a 0700 folder, whatever the umask",
  ignore: Deno.build.os === "windows",
  async fn() {
    await using home = await tempHome();
    const db = openStore(home.paths.db);
    try {
      db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)");
      for (const f of [home.paths.db, `${home.paths.db}-wal`, `${home.paths.db}-shm`]) {
        assert.equal((Deno.statSync(f).mode! & 0o777).toString(8), "600", f);
      }
      assert.equal((Deno.statSync(home.home).mode! & 0o777).toString(8), "700");
    } finally {
      db.close();
    }
  },
});
