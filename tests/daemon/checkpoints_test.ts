import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { startCheckpoints } from "../../daemon/checkpoints.ts";
import { openStore } from "../../store/open.ts";
import { RowWriter } from "../../store/writer.ts";
import { tempHome } from "../helpers/home.ts";
import { makeRow } from "../helpers/rows.ts";
import { waitFor } from "../../testkit/processes.ts";

function autocheckpoint(db: DatabaseSync): number {
  return (db.prepare("PRAGMA wal_autocheckpoint").get() as { wal_autocheckpoint: number }).wal_autocheckpoint;
}

/** {@linkcode waitFor} a condition of this process's own state, for up to 5 s. */
const until = (what: string, ok: () => boolean) => waitFor(what, () => Promise.resolve(ok()), 5_000);

/** The calls a copy of the database file alone holds: what has been copied back out of the write-ahead log. */
async function callsInMainFile(file: string, dir: string): Promise<number> {
  const copy = join(dir, "main-file-only.sqlite");
  await Deno.copyFile(file, copy);
  const db = new DatabaseSync(copy, { readOnly: true });
  try {
    // The schema itself may not have been copied back yet.
    if (!db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'requests'").get()) return 0;
    return (db.prepare("SELECT count(*) AS n FROM requests").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

Deno.test("startCheckpoints() copies rows into the database file from its own thread right after a flush", async () => {
  await using home = await tempHome();
  const db = openStore(home.paths.db);
  const errors: string[] = [];
  // No tick within the test: only flushes start checkpoints.
  const checkpoints = startCheckpoints({
    file: home.paths.db,
    db,
    intervalMs: 60_000,
    flushGapMs: 1_000,
    onError: (e) => errors.push(e),
  });
  const writer = new RowWriter(db, { intervalMs: 60_000, onFlushed: () => checkpoints.wrote() });
  try {
    assert.equal(await checkpoints.started, true);
    assert.equal(checkpoints.offThread, true);
    assert.equal(autocheckpoint(db), 10_000, "the writer's connection checkpoints only as a backstop");
    assert.equal(await callsInMainFile(home.paths.db, home.dir), 0, "nothing is in the database file yet");
    for (let i = 0; i < 30; i++) writer.enqueue(makeRow());
    writer.flush();
    const first = performance.now();
    await until("the checkpoint after the flush", () => checkpoints.done === 1);
    assert.equal(await callsInMainFile(home.paths.db, home.dir), 30);

    writer.enqueue(makeRow());
    writer.flush();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(checkpoints.done, 1, "a flush within `flushGapMs` of the last checkpoint starts none");
    assert.equal(await callsInMainFile(home.paths.db, home.dir), 30);
    await new Promise((r) => setTimeout(r, Math.max(0, first + 1_000 - performance.now())));
    writer.enqueue(makeRow());
    writer.flush();
    await until("the checkpoint after a later flush", () => checkpoints.done === 2);
    assert.equal(await callsInMainFile(home.paths.db, home.dir), 32);
  } finally {
    await checkpoints.close();
  }
  assert.equal(checkpoints.offThread, false);
  assert.equal(autocheckpoint(db), 1000, "closing gives checkpoints back to the writer's connection");
  assert.deepEqual(errors, []);
  writer.close();
  db.close();
  await assert.rejects(
    Deno.stat(`${home.paths.db}-wal`),
    Deno.errors.NotFound,
    "the last close removed the log",
  );
});

Deno.test("startCheckpoints() checkpoints writes no flush told of within its interval, and only those", async () => {
  await using home = await tempHome();
  const db = openStore(home.paths.db);
  const checkpoints = startCheckpoints({ file: home.paths.db, db, intervalMs: 20 });
  try {
    assert.equal(await checkpoints.started, true);
    const writer = new RowWriter(db, { intervalMs: 60_000 });
    for (let i = 0; i < 5; i++) writer.enqueue(makeRow());
    writer.flush();
    await until("a checkpoint of the writes", () => checkpoints.done === 1);
    assert.equal(await callsInMainFile(home.paths.db, home.dir), 5);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(checkpoints.done, 1, "no checkpoint runs while nothing is written");
    writer.close();
  } finally {
    await checkpoints.close();
    db.close();
  }
});

Deno.test("startCheckpoints() leaves checkpoints to the writer when its worker cannot open the database", async () => {
  await using home = await tempHome();
  const db = openStore(home.paths.db);
  const errors: string[] = [];
  const checkpoints = startCheckpoints({
    file: join(home.dir, "missing.sqlite"),
    db,
    onError: (e) => errors.push(e),
  });
  try {
    await until("the worker's failure to be told", () => errors.length > 0);
    assert.match(errors[0], /could not open the database/);
    assert.equal(checkpoints.offThread, false);
    assert.equal(autocheckpoint(db), 1000, "the writer's connection keeps SQLite's own checkpoints");
    await assert.rejects(
      Deno.stat(join(home.dir, "missing.sqlite")),
      Deno.errors.NotFound,
      "no empty file made",
    );
  } finally {
    await checkpoints.close();
    db.close();
  }
});
