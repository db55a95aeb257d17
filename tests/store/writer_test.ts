import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openStore } from "../../store/open.ts";
import { classifyWriteError, RowWriter } from "../../store/writer.ts";
import { tempHome } from "../helpers/home.ts";
import { makeRow } from "../helpers/rows.ts";

/** A connection that counts the transactions begun on it. */
class CountingDb extends DatabaseSync {
  begins = 0;
  override exec(sql: string): void {
    if (/^\s*BEGIN/i.test(sql)) this.begins++;
    super.exec(sql);
  }
}

function count(db: DatabaseSync, sql = "SELECT count(*) AS n FROM requests"): number {
  return (db.prepare(sql).get() as { n: number }).n;
}

Deno.test("RowWriter writes everything queued in one transaction", async () => {
  await using home = await tempHome();
  openStore(home.paths.db).close();
  const db = new CountingDb(home.paths.db);
  const writer = new RowWriter(db, { intervalMs: 60_000 });
  try {
    for (let i = 0; i < 250; i++) writer.enqueue(makeRow({ project: i % 2 ? "alpha" : "beta" }));
    assert.equal(writer.queued, 250);
    assert.equal(count(db), 0, "nothing is written before the flush");
    assert.equal(writer.flush(), 250);
    assert.equal(db.begins, 1);
    assert.equal(count(db), 250);
    assert.equal(writer.written, 250);
    assert.equal(writer.queued, 0);
  } finally {
    writer.close();
    db.close();
  }
});

Deno.test("RowWriter flushes on its own after the interval", async () => {
  await using home = await tempHome();
  const db = openStore(home.paths.db);
  const writer = new RowWriter(db, { intervalMs: 5 });
  try {
    writer.enqueue(makeRow());
    writer.enqueue(makeRow());
    const deadline = Date.now() + 2000;
    while (writer.written < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(count(db), 2);
  } finally {
    writer.close();
    db.close();
  }
});

Deno.test("RowWriter creates each project once by slug and reuses existing ones", async () => {
  await using home = await tempHome();
  const db = openStore(home.paths.db);
  db.prepare("INSERT INTO projects (id, slug, name, created_at) VALUES ('p-old', 'old', 'Old', 'x')").run();
  const writer = new RowWriter(db);
  try {
    for (const project of ["old", "new-one", "old", "new-one", "docker:ci"]) {
      writer.enqueue(makeRow({ project }));
    }
    writer.flush();
    const projects = db.prepare("SELECT slug, name FROM projects ORDER BY slug").all().map((r) => ({ ...r }));
    assert.deepEqual(projects, [
      { slug: "docker:ci", name: "docker:ci" },
      { slug: "new-one", name: "new-one" },
      { slug: "old", name: "Old" },
    ]);
    assert.equal(
      count(db, "SELECT count(*) AS n FROM requests WHERE project_id = 'p-old'"),
      2,
      "rows of an existing slug go to its existing project",
    );
  } finally {
    writer.close();
    db.close();
  }
});

Deno.test("RowWriter stores every column, 1/0 for booleans and the sum of the cache writes", async () => {
  await using home = await tempHome();
  const db = openStore(home.paths.db);
  const writer = new RowWriter(db);
  try {
    const row = makeRow({
      input_tokens: 10,
      cache_write_5m_tokens: 3,
      cache_write_1h_tokens: 4,
      tokens_complete: false,
      streamed: true,
      status: "error",
      error_class: "rate_limit",
      http_status: 429,
      cost_usd_minor_units: null,
    });
    writer.enqueue(row);
    writer.flush();
    const stored = db.prepare("SELECT * FROM requests").get() as Record<string, unknown>;
    assert.equal(stored.id, row.id);
    assert.equal(stored.cache_write_tokens, 7);
    assert.equal(stored.tokens_complete, 0);
    assert.equal(stored.streamed, 1);
    assert.equal(stored.error_class, "rate_limit");
    assert.equal(stored.http_status, 429);
    assert.equal(stored.cost_usd_minor_units, null);
  } finally {
    writer.close();
    db.close();
  }
});

Deno.test("RowWriter keeps rows queued when a flush fails, and writes them once it can", async () => {
  await using home = await tempHome();
  openStore(home.paths.db).close();
  // No busy timeout: a locked database fails the flush at once instead of waiting.
  const db = new DatabaseSync(home.paths.db);
  const blocker = new DatabaseSync(home.paths.db);
  const errors: number[] = [];
  const writer = new RowWriter(db, { intervalMs: 60_000, onError: (_, queued) => errors.push(queued) });
  try {
    writer.enqueue(makeRow({ project: "fresh" }));
    writer.enqueue(makeRow({ project: "fresh" }));
    blocker.exec("BEGIN IMMEDIATE");
    assert.equal(writer.flush(), 0);
    assert.equal(writer.queued, 2);
    assert.deepEqual(errors, [2]);
    writer.enqueue(makeRow({ project: "fresh" }));
    blocker.exec("ROLLBACK");
    assert.equal(writer.flush(), 3);
    assert.equal(count(db), 3);
    assert.equal(count(db, "SELECT count(*) AS n FROM projects WHERE slug = 'fresh'"), 1);
  } finally {
    writer.close();
    blocker.close();
    db.close();
  }
});

Deno.test("RowWriter: a flush that fails midway adds nothing to daily_usage, and its retry adds each call once", async () => {
  await using home = await tempHome();
  const db = openStore(home.paths.db);
  // Stands in for a failure after some calls of the batch were inserted (a full disk, say).
  db.exec(`CREATE TRIGGER fail_boom BEFORE INSERT ON requests WHEN NEW.id = 'boom'
    BEGIN SELECT RAISE(ABORT, 'disk full'); END`);
  const writer = new RowWriter(db, { intervalMs: 60_000 });
  const sums = () =>
    db.prepare("SELECT requests, input_tokens, cost_usd_minor_units AS cost FROM daily_usage").all().map((
      r,
    ) => ({
      ...r,
    }));
  try {
    const at = "2026-11-25T10:00:00.000Z";
    writer.enqueue(makeRow({ id: "first", requested_at: at, input_tokens: 10, cost_usd_minor_units: 100 }));
    writer.enqueue(makeRow({ id: "boom", requested_at: at, input_tokens: 1, cost_usd_minor_units: 7 }));
    assert.equal(writer.flush(), 0);
    assert.deepEqual(sums(), []);
    assert.equal(count(db), 0);
    db.exec("DROP TRIGGER fail_boom");
    assert.equal(writer.flush(), 2);
    assert.deepEqual(sums(), [{ requests: 2, input_tokens: 11, cost: 107 }]);
  } finally {
    writer.close();
    db.close();
  }
});

Deno.test("RowWriter with busyTimeoutMs gives up on a locked database quickly and writes the rows after", async () => {
  await using home = await tempHome();
  const db = openStore(home.paths.db);
  const blocker = new DatabaseSync(home.paths.db);
  const writer = new RowWriter(db, { intervalMs: 60_000, busyTimeoutMs: 50 });
  try {
    writer.enqueue(makeRow());
    blocker.exec("BEGIN IMMEDIATE");
    const started = performance.now();
    assert.equal(writer.flush(), 0);
    const waited = performance.now() - started;
    assert.ok(waited >= 40 && waited < 1000, `waited ${waited} ms, not the connection's 5 s`);
    assert.equal(writer.queued, 1);
    blocker.exec("COMMIT");
    assert.equal(writer.flush(), 1);
    assert.equal(count(db), 1);
  } finally {
    writer.close();
    blocker.close();
    db.close();
  }
});

Deno.test("RowWriter drops the oldest rows beyond maxQueued while the store refuses writes, and counts them", async () => {
  await using home = await tempHome();
  openStore(home.paths.db).close();
  const db = new DatabaseSync(home.paths.db);
  const blocker = new DatabaseSync(home.paths.db);
  const writer = new RowWriter(db, { intervalMs: 60_000, retryMs: 60_000, maxQueued: 3 });
  try {
    blocker.exec("BEGIN IMMEDIATE");
    const rows = Array.from({ length: 5 }, () => makeRow());
    for (const r of rows) writer.enqueue(r);
    assert.equal(writer.failure?.kind, "locked");
    assert.equal(writer.dropped, 2);
    blocker.exec("ROLLBACK");
    writer.flush();
    const ids = db.prepare("SELECT id FROM requests ORDER BY id").all().map((r) => r.id);
    assert.deepEqual(ids, rows.slice(2).map((r) => r.id));
  } finally {
    writer.close();
    blocker.close();
    db.close();
  }
});

Deno.test("RowWriter writes a queue grown past maxQueued at once when the store takes writes, dropping nothing", async () => {
  await using home = await tempHome();
  const db = openStore(home.paths.db);
  // A batch's results: more rows in one go than the queue holds, before any timer could flush.
  const writer = new RowWriter(db, { intervalMs: 60_000, maxQueued: 3 });
  try {
    for (let i = 0; i < 10; i++) writer.enqueue(makeRow());
    assert.equal(writer.dropped, 0);
    writer.flush();
    assert.equal(count(db), 10);
  } finally {
    writer.close();
    db.close();
  }
});

Deno.test("RowWriter.close() drains the queue", async () => {
  await using home = await tempHome();
  const db = openStore(home.paths.db);
  const writer = new RowWriter(db, { intervalMs: 60_000 });
  for (let i = 0; i < 7; i++) writer.enqueue(makeRow());
  writer.close();
  try {
    assert.equal(count(db), 7);
    assert.equal(writer.queued, 0);
  } finally {
    db.close();
  }
});

Deno.test("RowWriter after a failed flush says why, retries in batches from one row up, and clears the failure", async () => {
  await using home = await tempHome();
  openStore(home.paths.db).close();
  const db = new CountingDb(home.paths.db);
  const blocker = new DatabaseSync(home.paths.db);
  const writer = new RowWriter(db, { intervalMs: 60_000, retryMs: 60_000, batchSize: 8 });
  try {
    for (let i = 0; i < 20; i++) writer.enqueue(makeRow());
    blocker.exec("BEGIN IMMEDIATE");
    assert.equal(writer.flush(), 0);
    assert.equal(writer.failure?.kind, "locked");
    assert.equal(writer.failure?.reason, "the database is locked by another program");
    blocker.exec("ROLLBACK");
    db.begins = 0;
    assert.equal(writer.flush(), 20);
    // 1, 2, 4, 8, then the last 5: small transactions first, so a little freed space is used at once.
    assert.equal(db.begins, 5);
    assert.equal(count(db), 20);
    assert.equal(writer.failure, undefined);
  } finally {
    writer.close();
    blocker.close();
    db.close();
  }
});

Deno.test("RowWriter.close() counts the rows it could not write as dropped", async () => {
  await using home = await tempHome();
  openStore(home.paths.db).close();
  const db = new DatabaseSync(home.paths.db);
  const blocker = new DatabaseSync(home.paths.db);
  const writer = new RowWriter(db, { intervalMs: 60_000 });
  try {
    for (let i = 0; i < 4; i++) writer.enqueue(makeRow());
    blocker.exec("BEGIN IMMEDIATE");
    assert.equal(writer.close(), 4);
    assert.equal(writer.dropped, 4);
    assert.equal(writer.queued, 0);
  } finally {
    blocker.exec("ROLLBACK");
    blocker.close();
    db.close();
  }
});

Deno.test("classifyWriteError() names a full disk, a read-only file, a lock and a corrupt file", () => {
  const kinds = [
    ["database or disk is full", "disk-full"],
    ["attempt to write a readonly database", "read-only"],
    ["database is locked", "locked"],
    ["database disk image is malformed", "corrupt"],
    ["something else", "other"],
  ] as const;
  for (const [message, kind] of kinds) {
    assert.equal(classifyWriteError(new Error(message)).kind, kind, message);
  }
});

Deno.test("classifyWriteError() goes by SQLite's result code when the error has one", () => {
  const withCode = (message: string, errcode: number) => Object.assign(new Error(message), { errcode });
  assert.equal(classifyWriteError(withCode("database or disk is full", 13)).kind, "disk-full");
  assert.equal(classifyWriteError(withCode("database is locked", 5)).kind, "locked");
  assert.equal(
    classifyWriteError(withCode("attempt to write a readonly database", 8 | (3 << 8))).kind,
    "read-only",
  );
  assert.equal(classifyWriteError(withCode("disk I/O error", 10)).kind, "other");
});

Deno.test("RowWriter.damaged() stops every write into the database for good; rows wait and are counted", async () => {
  await using home = await tempHome();
  openStore(home.paths.db).close();
  const db = new CountingDb(home.paths.db);
  const errors: string[] = [];
  const writer = new RowWriter(db, {
    intervalMs: 60_000,
    maxQueued: 2,
    file: home.paths.db,
    onError: (e) => errors.push(e.message),
  });
  try {
    writer.enqueue(makeRow());
    assert.equal(writer.flush(), 1);
    writer.damaged(`${home.paths.db} is corrupted (SQLite's quick_check: page 7 is never used)`);
    writer.damaged("found again");
    for (let i = 0; i < 3; i++) writer.enqueue(makeRow());
    const begins = db.begins;
    assert.equal(writer.flush(), 0);
    assert.equal(db.begins, begins, "no transaction is begun on a damaged database");
    assert.deepEqual([writer.written, writer.queued, writer.dropped], [1, 2, 1]);
    assert.equal(writer.failure?.kind, "corrupt");
    assert.equal(writer.failure?.reason, "the database is corrupted");
    assert.match(
      writer.failure?.next ?? "",
      new RegExp(`move ${home.paths.db} aside \\(nothing is deleted\\)`),
    );
    assert.deepEqual(errors, [`${home.paths.db} is corrupted (SQLite's quick_check: page 7 is never used)`]);
    assert.equal(count(db), 1);
  } finally {
    assert.equal(writer.close(), 2);
    db.close();
  }
});

Deno.test("RowWriter tells onFlushed after a flush that wrote rows, and only then", async () => {
  await using home = await tempHome();
  const db = openStore(home.paths.db);
  let told = 0;
  const writer = new RowWriter(db, { intervalMs: 60_000, onFlushed: () => told++ });
  try {
    assert.equal(writer.flush(), 0);
    assert.equal(told, 0, "an empty flush wrote nothing");
    writer.enqueue(makeRow());
    writer.enqueue(makeRow());
    assert.equal(writer.flush(), 2);
    assert.equal(told, 1);
    db.exec("PRAGMA query_only = ON");
    writer.enqueue(makeRow());
    assert.equal(writer.flush(), 0);
    assert.equal(told, 1, "a failed flush wrote nothing");
  } finally {
    writer.close();
    db.close();
  }
});

Deno.test("RowWriter stores every count of a row, each in its own column", async () => {
  await using home = await tempHome();
  const db = openStore(home.paths.db);
  const writer = new RowWriter(db, { intervalMs: 60_000 });
  try {
    const counts = {
      input_tokens: 1000,
      output_tokens: 900,
      thinking_tokens: 100,
      cache_read_tokens: 300,
      cache_write_5m_tokens: 40,
      cache_write_1h_tokens: 50,
      input_audio_tokens: 600,
      input_image_tokens: 200,
      output_audio_tokens: 500,
      output_image_tokens: 70,
      web_search_requests: 3,
    };
    writer.enqueue(makeRow(counts));
    writer.flush();
    const stored = db.prepare(`SELECT ${Object.keys(counts).join(", ")} FROM requests`).get();
    assert.deepEqual({ ...stored }, counts);
  } finally {
    writer.close();
    db.close();
  }
});
