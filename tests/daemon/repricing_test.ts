import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { Logger } from "../../core/log.ts";
import { Repricer } from "../../daemon/repricing.ts";
import {
  buildRateBook,
  bundledCard,
  loadPackage,
  PACKAGE_SOURCE,
  parseDecimal,
  readStoredRates,
  writeStoredRates,
} from "../../pricing/mod.ts";
import { openStore } from "../../store/open.ts";
import { RowWriter } from "../../store/writer.ts";
import { tempHome } from "../helpers/home.ts";
import { makeRow } from "../helpers/rows.ts";

/** Rows as an older daemon stored them: no cost, because its card had no rate for the model then. */
function storeUnpriced(db: DatabaseSync): void {
  const writer = new RowWriter(db);
  writer.enqueue(makeRow({
    id: "on-card",
    project: "demo",
    provider: "openai",
    model: "gpt-6.2-sol",
    input_tokens: 100_000,
    output_tokens: 10_000,
    cost_usd_minor_units: null,
    rates_source: null,
  }));
  writer.enqueue(makeRow({
    id: "nowhere",
    project: "demo",
    provider: "openai",
    model: "gpt-9-imaginary",
    input_tokens: 1000,
    output_tokens: 100,
    billing: "subscription",
    cost_usd_minor_units: null,
    rates_source: null,
  }));
  writer.enqueue(makeRow({
    id: "groq",
    project: "demo",
    provider: "groq",
    model: "llama-3.3-70b-versatile",
    input_tokens: 1000,
    output_tokens: 100,
    cost_usd_minor_units: null,
    rates_source: null,
  }));
  writer.close();
}

const cost = (db: DatabaseSync, id: string) =>
  ({
    ...db.prepare("SELECT cost_usd_minor_units AS c, rates_source AS s FROM requests WHERE id = ?").get(id),
  }) as { c: number | null; s: string | null };

async function until(what: string, check: () => boolean): Promise<void> {
  // Bounded: 200 × 25 ms, ample on a loaded machine for a check that runs every 20 ms.
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

Deno.test("the daemon's repricer prices calls stored without a cost once rates appear: at start and on an import", async () => {
  await using home = await tempHome();
  const db = openStore(home.paths.db);
  const log = new Logger({ process: "daemon", dir: home.home });
  const repricer = new Repricer({
    db,
    build: (pkg, onMiss) =>
      buildRateBook({ card: bundledCard(), stored: readStoredRates(db), package: pkg, onMiss }),
    loadPackage,
    settleMs: 50,
    log,
    intervalMs: 20,
  });
  try {
    storeUnpriced(db);
    repricer.start();
    // At start: gpt-6.2-sol is on this card. 0.1 M in × $2 + 0.01 M out × $10 = $0.30.
    await until("the carded model to be priced", () => cost(db, "on-card").c !== null);
    assert.deepEqual(cost(db, "on-card"), { c: 30_000, s: bundledCard()[0].source });
    assert.equal(cost(db, "nowhere").c, null);
    // Calls remained unpriced, so the data package is loaded (only then: it is large) and prices the [hosts]
    // call.
    await until("the package's model to be priced", () => cost(db, "groq").c !== null);
    assert.equal(cost(db, "groq").s, PACKAGE_SOURCE);

    // An import while the daemon runs: the repricer sees the table change, rebuilds its book and prices.
    writeStoredRates(db, [{
      provider: "openai",
      model: "gpt-9-imaginary",
      tier: "standard",
      min_prompt_tokens: 0,
      rates: { input: parseDecimal("1"), output: parseDecimal("4") },
    }], "litellm:prices.json");
    await until("the imported model to be priced", () => cost(db, "nowhere").c !== null);
    // 1,000 × $1 + 100 × $4 per million = $0.0014 = 140 mc.
    assert.deepEqual(cost(db, "nowhere"), { c: 140, s: "litellm:prices.json" });
    assert.equal(repricer.book.lookup("openai", "gpt-9-imaginary")?.source, "litellm:prices.json");
    // The daily rollup followed: nothing unpriced left, and the subscription's API equivalent is counted.
    const day = db.prepare(
      "SELECT sum(unknown_cost_requests) AS u, sum(unknown_cost_tokens) AS t, sum(subscription_cost_usd_minor_units) AS s FROM daily_usage",
    ).get() as { u: number; t: number; s: number };
    assert.deepEqual({ ...day }, { u: 0, t: 0, s: 140 });
  } finally {
    await repricer.close();
    db.close();
    log.close();
  }
  const events = (await Deno.readTextFile(`${home.home}/daemon.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  const repriced = events.filter((e) => e.event === "pricing.repriced");
  assert.deepEqual(repriced.map((e) => [e.reason, e.priced]), [["start", 1], ["package_loaded", 1], [
    "rates_changed",
    1,
  ]]);
});

Deno.test("the repricer loads the data package only when a call names a model nothing else prices", async () => {
  await using home = await tempHome();
  const db = openStore(home.paths.db);
  const log = new Logger({ process: "daemon", dir: home.home });
  let loads = 0;
  const repricer = new Repricer({
    db,
    build: (pkg, onMiss) => buildRateBook({ card: bundledCard(), package: pkg, onMiss }),
    loadPackage: () => (loads++, loadPackage()),
    log,
    intervalMs: 20,
    settleMs: 10,
  });
  try {
    repricer.start();
    // Carded models never load it.
    assert.ok(repricer.book.lookup("anthropic", "claude-sonnet-5"));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(loads, 0);
    // A model only the package knows: unpriced at first, then priced by the rebuilt book.
    assert.equal(repricer.book.lookup("groq", "llama-3.3-70b-versatile"), undefined);
    await until("the package to be loaded", () => !!repricer.book.lookup("groq", "llama-3.3-70b-versatile"));
    assert.equal(repricer.book.lookup("groq", "llama-3.3-70b-versatile")?.source, PACKAGE_SOURCE);
    assert.equal(repricer.book.lookup("groq", "no-such-model"), undefined);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(loads, 1, "loaded once");
  } finally {
    await repricer.close();
    db.close();
    log.close();
  }
});
