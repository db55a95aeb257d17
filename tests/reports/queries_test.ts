import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { openStore } from "../../store/open.ts";
import { isEmpty, projectSlugs, reportGroups, sumGroups, unknownCostModels } from "../../reports/queries.ts";
import { tempHome } from "../helpers/home.ts";
import { writeFixture } from "../helpers/report_fixture.ts";

const WEEK = { from: "2026-11-18T12:00:00.000Z", to: "2026-11-25T12:00:00.000Z", zone: "UTC" };

async function withFixture(fn: (db: DatabaseSync) => void): Promise<void> {
  await using home = await tempHome();
  writeFixture(home.paths.db);
  const db = openStore(home.paths.db, { readOnly: true });
  try {
    fn(db);
  } finally {
    db.close();
  }
}

Deno.test("reportGroups() by project sums every column per project, most expensive first", () =>
  withFixture((db) => {
    // alpha = A + B + E, beta = C + D + F (see tests/helpers/report_fixture.ts).
    assert.deepEqual(reportGroups(db, { window: WEEK, by: "project" }), [
      {
        key: "alpha",
        requests: 3,
        input_tokens: 1000 + 2000 + 100,
        output_tokens: 500 + 100 + 50,
        cache_read_tokens: 300 + 5000,
        cache_write_tokens: 1000 + 500,
        thinking_tokens: 200,
        cost_millicents: 1_234_567 + 250_000 + 1000,
        unknown_cost_requests: 0,
        unknown_cost_tokens: 0,
        subscription_requests: 1,
        subscription_cost_millicents: 1000,
        incomplete_requests: 1,
        error_requests: 0,
      },
      {
        key: "beta",
        requests: 3,
        input_tokens: 10 + 400,
        output_tokens: 5 + 40,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        thinking_tokens: 0,
        cost_millicents: 700,
        unknown_cost_requests: 1,
        unknown_cost_tokens: 440,
        subscription_requests: 0,
        subscription_cost_millicents: 0,
        incomplete_requests: 0,
        error_requests: 1,
      },
    ]);
  }));

Deno.test("reportGroups() by model and by provider group the same calls by those keys", () =>
  withFixture((db) => {
    const models = reportGroups(db, { window: WEEK, by: "model" });
    assert.deepEqual(models.map((g) => [g.key, g.requests, g.cost_millicents, g.unknown_cost_requests]), [
      ["gpt-5", 3, 1_234_567 + 700 + 1000, 0],
      ["claude-sonnet-4-5", 2, 250_000, 0],
      ["mystery-model", 1, 0, 1],
    ]);
    const providers = reportGroups(db, { window: WEEK, by: "provider" });
    assert.deepEqual(providers.map((g) => [g.key, g.requests, g.cost_millicents]), [
      ["openai", 4, 1_234_567 + 700 + 1000],
      ["anthropic", 2, 250_000],
    ]);
  }));

Deno.test("reportGroups() by day lists every date the window touches, in date order", () =>
  withFixture((db) => {
    const days = reportGroups(db, { window: WEEK, by: "day" });
    assert.deepEqual(days.map((g) => [g.key, g.requests]), [
      ["2026-11-18", 0],
      ["2026-11-19", 1],
      ["2026-11-20", 1],
      ["2026-11-21", 1],
      ["2026-11-22", 1],
      ["2026-11-23", 1],
      ["2026-11-24", 1],
      ["2026-11-25", 0],
    ]);
  }));

Deno.test("reportGroups() includes the window's start and excludes its end", () =>
  withFixture((db) => {
    // J is 1 ms before the start, I exactly at the end: neither is in; G and J make the week before.
    const justBefore = { from: "2026-11-18T11:59:59.999Z", to: "2026-11-18T12:00:00.000Z", zone: "UTC" };
    assert.deepEqual(reportGroups(db, { window: justBefore, by: "project" }).map((g) => g.cost_millicents), [
      1,
    ]);
    const atEnd = { from: "2026-11-25T12:00:00.000Z", to: "2026-11-26T00:00:00.000Z", zone: "UTC" };
    assert.deepEqual(reportGroups(db, { window: atEnd, by: "project" }).map((g) => g.cost_millicents), [
      99_999_999,
    ]);
    const before = { from: "2026-11-11T12:00:00.000Z", to: WEEK.from, zone: "UTC" };
    assert.deepEqual(
      reportGroups(db, { window: before, by: "project" }).map((g) => [g.key, g.cost_millicents]),
      [
        ["alpha", 617_283 + 1],
        ["gamma", 5000],
      ],
    );
  }));

Deno.test("reportGroups() with a project keeps only that project's calls; an unknown slug finds none", () =>
  withFixture((db) => {
    const beta = reportGroups(db, { window: WEEK, by: "model", project: "beta" });
    assert.deepEqual(beta.map((g) => [g.key, g.requests]), [
      ["gpt-5", 1],
      ["claude-sonnet-4-5", 1],
      ["mystery-model", 1],
    ]);
    assert.deepEqual(reportGroups(db, { window: WEEK, by: "model", project: "nope" }), []);
  }));

Deno.test("unknownCostModels() lists the calls without a known cost by provider and model", () =>
  withFixture((db) => {
    assert.deepEqual(unknownCostModels(db, { window: WEEK }).map((m) => ({ ...m })), [
      { provider: "openai", model: "mystery-model", requests: 1 },
    ]);
    assert.deepEqual(unknownCostModels(db, { window: WEEK, project: "alpha" }), []);
  }));

Deno.test("sumGroups() adds every field; projectSlugs() and isEmpty() describe the database", () =>
  withFixture((db) => {
    const total = sumGroups(reportGroups(db, { window: WEEK, by: "project" }));
    assert.equal(total.requests, 6);
    assert.equal(total.cost_millicents, 1_234_567 + 250_000 + 1000 + 700);
    assert.equal(total.cache_write_tokens, 1500);
    assert.equal(total.unknown_cost_requests, 1);
    assert.deepEqual(projectSlugs(db), ["alpha", "beta", "gamma"]);
    assert.equal(isEmpty(db), false);
  }));

Deno.test("isEmpty() is true for a database without calls", async () => {
  await using home = await tempHome();
  openStore(home.paths.db).close();
  const db = openStore(home.paths.db, { readOnly: true });
  try {
    assert.equal(isEmpty(db), true);
    const days = reportGroups(db, { window: WEEK, by: "day" });
    assert.equal(days.length, 8);
    assert.ok(days.every((d) => d.requests === 0 && d.cost_millicents === 0));
  } finally {
    db.close();
  }
});
