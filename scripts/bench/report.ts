/**
 * Bench section `report`: a million seeded calls over 90 days, then the default report (7 days by project)
 * timed in-process and as a whole `halton-meter report` process, against the 500 ms target; the same over
 * all 90 days for scale.
 *
 * The seeded database is cached under `.bench/`, keyed by row count, migration count and the UTC day it was
 * seeded on (the default window is relative to now, so a cache from another day would hold fewer recent
 * calls). Older caches are removed.
 *
 * @module
 */
import { join } from "node:path";
import { createHash } from "node:crypto";
import type { BenchResult } from "../bench.ts";
import { seedDatabase, seedRows } from "../seed.ts";
import { bundledMigrations } from "../../store/migrate.ts";
import { openStore } from "../../store/open.ts";
import { RowWriter } from "../../store/writer.ts";
import { uuid7 } from "../../store/ids.ts";
import { reportOptions } from "../../cli/report.ts";
import { buildReport } from "../../reports/report.ts";
import type { Invocation } from "../../cli/command.ts";

const ROWS = 1_000_000;
const DAYS = 90;
const RUNS = 5;
const TARGET_MS = 500;
// Fresh calls stored by the daemon's writer in flushes of the size it makes at ~6,000 calls/s, timed after as
// many untimed ones (the first flushes into a copied file read its pages in, which a running daemon has done).
const STORE_FLUSHES = 40;
const STORE_WARMUP_FLUSHES = 20;
const STORE_FLUSH_ROWS = 150;
const BENCH_DIR = new URL("../../.bench/", import.meta.url).pathname;
const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** The median of `runs` timings of `fn`, in milliseconds, after one untimed warm-up. */
export async function medianMs(runs: number, fn: () => unknown): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * The seeded database for today, seeding it (and dropping older caches) when missing. The cache is named by a
 * digest of the migrations' text, not their count: a migration still being written changes the schema without
 * adding a file, and a database seeded before it would lack its columns.
 */
async function seededDatabase(): Promise<{ file: string; seededMs?: number }> {
  const day = new Date().toISOString().slice(0, 10);
  const schema = createHash("sha256");
  for (const m of bundledMigrations()) schema.update(`${m.name}\n${m.sql}\n`);
  const prefix = `report-${ROWS}rows-schema-${schema.digest("hex").slice(0, 12)}-`;
  const file = join(BENCH_DIR, `${prefix}${day}.sqlite`);
  try {
    Deno.statSync(file);
    return { file };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  Deno.mkdirSync(BENCH_DIR, { recursive: true });
  for (const entry of Deno.readDirSync(BENCH_DIR)) {
    if (entry.name.startsWith("report-")) Deno.removeSync(join(BENCH_DIR, entry.name));
  }
  const home = await Deno.makeTempDir({ dir: BENCH_DIR, prefix: "seed-" });
  try {
    // The window ends at the next UTC midnight so that all of today is inside the default 7-day report.
    const end = new Date(`${day}T00:00:00.000Z`);
    end.setUTCDate(end.getUTCDate() + 1);
    const started = performance.now();
    seedDatabase(join(home, "db.sqlite"), { rows: ROWS, days: DAYS, end, seed: 1 });
    const seededMs = performance.now() - started;
    Deno.renameSync(join(home, "db.sqlite"), file);
    return { file, seededMs };
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

function invocation(flags: Invocation["flags"]): Invocation {
  return { flags, positionals: [], rest: [] };
}

async function cliMs(home: string, args: string[]): Promise<number> {
  return await medianMs(RUNS, async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "report", ...args],
      env: { HALTON_METER_HOME: home, NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`report failed: ${new TextDecoder().decode(out.stderr)}`);
  });
}

/**
 * Microseconds per call for the daemon's writer to store fresh calls (rows, indexes and daily rollup) in a
 * copy of the seeded database, flush by flush: the cost that grows with the database, unlike the rest.
 */
async function storeMicros(file: string): Promise<number> {
  const home = await Deno.makeTempDir({ dir: BENCH_DIR, prefix: "store-" });
  try {
    const copy = join(home, "db.sqlite");
    Deno.copyFileSync(file, copy);
    const db = openStore(copy);
    try {
      const writer = new RowWriter(db, { intervalMs: 60_000 });
      // The seed's mix of projects and models, stamped as the daemon stamps them: now, with ids of now.
      const now = Date.now();
      const flushes = STORE_WARMUP_FLUSHES + STORE_FLUSHES;
      const rows = [...seedRows({ rows: flushes * STORE_FLUSH_ROWS, days: 1, seed: 2 })].map((row, i) => ({
        ...row,
        id: uuid7(now + i),
        requested_at: new Date(now + i).toISOString(),
      }));
      let ms = 0;
      for (let f = 0; f < flushes; f++) {
        for (const row of rows.slice(f * STORE_FLUSH_ROWS, (f + 1) * STORE_FLUSH_ROWS)) writer.enqueue(row);
        const t = performance.now();
        if (writer.flush() !== STORE_FLUSH_ROWS) throw new Error("a bench flush did not store its calls");
        if (f >= STORE_WARMUP_FLUSHES) ms += performance.now() - t;
      }
      writer.close();
      return ms / (STORE_FLUSHES * STORE_FLUSH_ROWS) * 1000;
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

/** Runs the section. */
export async function run(): Promise<BenchResult[]> {
  const { file, seededMs } = await seededDatabase();
  const results: BenchResult[] = [];
  if (seededMs !== undefined) {
    results.push({ name: `seed ${ROWS.toLocaleString("en-US")} rows`, value: seededMs / 1000, unit: "s" });
  }
  const db = openStore(file, { readOnly: true });
  try {
    const now = new Date();
    for (
      const [label, flags] of [["7d by project (default)", {}], ["90d by model", {
        since: "90d",
        by: "model",
      }]] as const
    ) {
      const options = reportOptions(invocation(flags), now, "UTC");
      let rows = 0;
      const ms = await medianMs(RUNS, () => rows = buildReport(db, options).total.requests);
      results.push({
        name: `report query, ${label}`,
        value: ms,
        unit: "ms",
        target: TARGET_MS,
        note: `in-process, median of ${RUNS}, ${
          rows.toLocaleString("en-US")
        } calls: whole days from daily_usage, the partial ends from requests`,
      });
    }
  } finally {
    db.close();
  }
  results.push({
    name: `store fresh calls into the ${ROWS.toLocaleString("en-US")}-call database`,
    value: Math.round(await storeMicros(file) * 10) / 10,
    unit: "µs/call",
    note: `rows, indexes and daily rollup, by the daemon's writer; ${STORE_FLUSHES} flushes of ` +
      `${STORE_FLUSH_ROWS} calls into a copy of the file, after as many untimed`,
  });
  // A home per run holding a hard link to the cached file: `report` opens it read-only, so the cache is
  // never written, and its -shm/-wal side files stay in the temp home.
  const home = await Deno.makeTempDir({ dir: BENCH_DIR, prefix: "home-" });
  try {
    Deno.linkSync(file, join(home, "db.sqlite"));
    results.push({
      name: "`report` process, 7d by project (default)",
      value: await cliMs(home, []),
      unit: "ms",
      target: TARGET_MS,
      note: `deno run main.ts, median of ${RUNS}`,
    });
    results.push({
      name: "`report` process, 90d by model",
      value: await cliMs(home, ["--since", "90d", "--by", "model"]),
      unit: "ms",
      target: TARGET_MS,
      note: `deno run main.ts, median of ${RUNS}`,
    });
  } finally {
    await Deno.remove(home, { recursive: true });
  }
  return results;
}
