import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { MeterError } from "../../core/errors.ts";
import { seedDatabase, seedRows } from "../../scripts/seed.ts";
import { tempHome } from "../helpers/home.ts";

const END = new Date("2026-11-25T00:00:00.000Z");

Deno.test("seedRows() is deterministic for a seed and differs between seeds", () => {
  const a = [...seedRows({ rows: 200, days: 10, seed: 7, end: END })];
  const b = [...seedRows({ rows: 200, days: 10, seed: 7, end: END })];
  const c = [...seedRows({ rows: 200, days: 10, seed: 8, end: END })];
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.map((r) => r.id), c.map((r) => r.id));
});

Deno.test("seedRows() spreads calls in time order over the window, busier on weekday afternoons than nights", () => {
  const rows = [...seedRows({ rows: 5000, days: 14, end: END })];
  const times = rows.map((r) => Date.parse(r.requested_at));
  assert.ok(times.every((t, i) => i === 0 || t >= times[i - 1]), "oldest first");
  assert.ok(times[0] >= END.getTime() - 14 * 86_400_000 && times.at(-1)! < END.getTime());
  const hour = (h: number) => rows.filter((r) => new Date(r.requested_at).getUTCHours() === h).length;
  assert.ok(hour(14) > 4 * hour(3), `14:00 has ${hour(14)} calls, 03:00 has ${hour(3)}`);
  assert.equal(new Set(rows.map((r) => r.id)).size, rows.length);
});

Deno.test("seedRows() yields the variety a report needs to show", () => {
  const rows = [...seedRows({ rows: 5000, days: 30, end: END })];
  assert.ok(new Set(rows.map((r) => r.project)).size >= 5);
  assert.ok(new Set(rows.map((r) => r.provider)).size >= 4);
  assert.ok(new Set(rows.map((r) => r.model)).size >= 8);
  assert.ok(rows.some((r) => r.cost_usd_minor_units === null), "calls without a known cost");
  assert.ok(rows.some((r) => r.status === "error" && r.error_class !== null && r.output_tokens === 0));
  assert.ok(rows.some((r) => !r.tokens_complete));
  assert.ok(rows.some((r) => r.cache_read_tokens > 0 && r.cache_write_5m_tokens > 0));
  assert.ok(rows.some((r) => r.thinking_tokens > 0 && r.mode === "thinking"));
  assert.ok(rows.every((r) => r.thinking_tokens <= r.output_tokens));
  assert.ok(rows.some((r) => r.billing === "subscription"));
});

Deno.test("seedDatabase() fills an empty database and refuses one with calls unless told to append", async () => {
  await using home = await tempHome();
  assert.equal(seedDatabase(home.paths.db, { rows: 1200, days: 5, end: END }), 1200);
  const db = new DatabaseSync(home.paths.db, { readOnly: true });
  try {
    assert.equal((db.prepare("SELECT count(*) AS n FROM requests").get() as { n: number }).n, 1200);
    const orphans = db.prepare(
      "SELECT count(*) AS n FROM requests WHERE project_id NOT IN (SELECT id FROM projects)",
    ).get() as { n: number };
    assert.equal(orphans.n, 0);
  } finally {
    db.close();
  }
  assert.throws(() => seedDatabase(home.paths.db, { rows: 10, end: END }), (e) => {
    assert.ok(e instanceof MeterError);
    assert.match(e.message, /already holds 1200 calls/);
    return true;
  });
  assert.equal(seedDatabase(home.paths.db, { rows: 10, seed: 2, end: END, append: true }), 10);
});

Deno.test("deno task seed writes into --home and says what it did", async () => {
  await using home = await tempHome();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../scripts/seed.ts", import.meta.url).pathname,
      "--rows",
      "500",
      "--home",
      home.home,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.match(stderr, /seeded 500 calls over 30 days into .*db\.sqlite/);
  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../scripts/seed.ts", import.meta.url).pathname, "--rows", "many"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /--rows expects a whole number above 0, got 'many'/);
});
