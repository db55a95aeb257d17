/**
 * The built-in page in a real headless Chromium against a real daemon on a seeded database: no console
 * errors, its numbers equal the read API's, every model and project reachable, the project view, and the page
 * readable at 1400 and 390 pixels wide (screenshots kept under `.artifacts/page/`).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { seedDatabase } from "../../scripts/seed.ts";
import { browserMissing, openPage } from "../helpers/browser.ts";
import { tempHome } from "../helpers/home.ts";
import { makeRow } from "../helpers/rows.ts";
import { openStore } from "../../store/open.ts";
import { CallInserter } from "../../store/insert.ts";
import { RowWriter } from "../../store/writer.ts";
import { daemonHealthy, pinPorts, spawnMeter, stop, waitFor } from "../../testkit/processes.ts";

const ARTIFACTS = new URL("../../.artifacts/page/", import.meta.url).pathname;
const missing = browserMissing();

interface Group {
  key: string | null;
  requests: number;
  cost_millicents: number;
}

/** The millicents a tile of the page holds (`#box [data-tile="id"]`). */
const tileMillicents = (box: string, id: string) =>
  `Number(document.querySelector('#${box} [data-tile="${id}"]').dataset.millicents)`;

Deno.test({
  name:
    "the page in headless Chromium shows the read API's figures, every group, a project's view, at 1400 and 390 px" +
    (missing ? ` (skipped: ${missing})` : ""),
  ignore: missing !== undefined,
  async fn() {
    await using home = await tempHome();
    await Deno.mkdir(home.home, { recursive: true });
    // Calls up to a minute ago, so the page and the API, asked a few seconds apart, see the same ones.
    seedDatabase(home.paths.db, { rows: 4000, days: 40, seed: 5, end: new Date(Date.now() - 60_000) });
    const ports = await pinPorts(home.home);
    const daemon = spawnMeter(home.home, "daemon", { env: { ...home.env, TZ: "America/Los_Angeles" } });
    try {
      await waitFor("daemon", () => daemonHealthy(ports.api), 60_000);
      const base = `http://127.0.0.1:${ports.api}`;
      const api = async (query: string) => await (await fetch(`${base}/v1/report?${query}`)).json();
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      await using page = await openPage();
      await page.viewport(1400, 1000);
      await page.goto(`${base}/`);
      await page.waitFor("the page loaded", "document.body.dataset.loaded");

      // The default window is 30 days, in the daemon's zone, and the page says which.
      const projects = await api("since=30d&by=project");
      const models = await api("since=30d&by=model");
      const days = await api("since=30d&by=day");
      assert.equal(projects.window.zone, "America/Los_Angeles");
      assert.match(
        await page.eval<string>(`document.getElementById("window").textContent`),
        /days in America\/Los_Angeles/,
      );
      // Billed spend and the subscription's API-equivalent in tiles apart; together, the whole known cost.
      assert.equal(
        await page.eval<number>(tileMillicents("tiles", "billed")),
        projects.total.billed_cost_millicents,
      );
      assert.ok(projects.total.subscription_requests > 0, "the seed has subscription traffic");
      assert.equal(
        await page.eval<number>(tileMillicents("tiles", "subscription")),
        projects.total.subscription_cost_millicents,
      );
      assert.equal(
        projects.total.billed_cost_millicents + projects.total.subscription_cost_millicents,
        projects.total.cost_millicents,
      );
      assert.ok(projects.total.cost_millicents > 0);
      // The seed has a model without a rate: its calls and tokens have a tile, and the costs are lower bounds.
      assert.ok(projects.total.cost_is_lower_bound);
      assert.match(
        await page.eval<string>(`document.querySelector('#tiles [data-tile="billed"] b').textContent`),
        /^≥ \$/,
      );
      assert.equal(
        await page.eval<string>(`document.querySelector('#tiles [data-tile="unpriced"] b').textContent`),
        `${projects.total.unknown_cost_requests.toLocaleString("en-US")} calls · ` +
          `${projects.total.unknown_cost_tokens.toLocaleString("en-US")} tokens`,
      );
      const shown = (box: string) =>
        page.eval<[string, number][]>(
          `[...document.querySelectorAll("#${box} tr[data-key]")].map((r) => [r.dataset.key, Number(r.dataset.millicents)])`,
        );
      const pairs = (groups: Group[]) => groups.map((g) => [g.key ?? "", g.cost_millicents]);
      assert.deepEqual(await shown("by-project"), pairs(projects.groups).slice(0, 10));
      const dayBars = await page.eval<[string, number][]>(
        `[...document.querySelectorAll("#by-day rect[data-key]")].map((r) => [r.dataset.key, Number(r.dataset.millicents)])`,
      );
      assert.deepEqual(dayBars, pairs(days.groups));
      assert.equal(dayBars.length, 30);

      // More models than the first ten: the tile counts them all, and "Show all" lists them all.
      assert.ok(models.groups.length > 10, `only ${models.groups.length} models seeded`);
      assert.equal(
        await page.eval<string>(`document.querySelector('[data-tile="models"] b').textContent`),
        String(models.groups.length),
      );
      assert.equal((await shown("by-model")).length, 10);
      await page.eval(`document.querySelector("#by-model button.more").click()`);
      assert.deepEqual(await shown("by-model"), pairs(models.groups));

      // Round y-axis ticks: every label is a whole multiple of the step between them.
      const ticks = await page.eval<string[]>(
        `[...document.querySelectorAll("#by-day text.tick")].map((t) => t.textContent)`,
      );
      const values = ticks.map((t) => Number(t.replace(/[$,]/g, "")));
      const step = values[1] - values[0];
      assert.ok(
        /^(1|2|2\.5|5)(0*)$/.test(String(step / 10 ** Math.floor(Math.log10(step)))) || step < 1,
        `step ${step}`,
      );
      values.forEach((v, i) => assert.ok(Math.abs(v - i * step) < 1e-9, `ticks ${ticks}`));
      await Deno.writeFile(join(ARTIFACTS, "overview-1400.png"), await page.screenshot());

      // A project's view: its days and models from the same report, its calls paged.
      const slug = projects.groups[0].key as string;
      const own = await api(`since=30d&by=day&project=${encodeURIComponent(slug)}`);
      await page.eval(`document.querySelector('#by-project a').click()`);
      await page.waitFor(
        "the project view",
        `!document.getElementById("project").hidden && document.querySelectorAll("#project-calls tr[data-id]").length === 20`,
      );
      assert.equal(await page.eval<string>(`document.getElementById("project-title").textContent`), slug);
      assert.equal(
        await page.eval<string>(`getComputedStyle(document.getElementById("overview")).display`),
        "none",
      );
      assert.equal(
        await page.eval<number>(tileMillicents("project-tiles", "billed")),
        own.total.billed_cost_millicents,
      );
      await page.eval(`document.querySelector("#project-calls button.more").click()`);
      await page.waitFor(
        "the next page of calls",
        `document.querySelectorAll("#project-calls tr[data-id]").length === 40`,
      );
      const ids = await page.eval<string[]>(
        `[...document.querySelectorAll("#project-calls tr[data-id]")].map((r) => r.dataset.id)`,
      );
      assert.equal(new Set(ids).size, 40, "the second page continues the first");
      await Deno.writeFile(join(ARTIFACTS, "project-1400.png"), await page.screenshot());

      // A phone: nothing wider than the screen, the axis text at a readable size.
      await page.viewport(390, 844, true);
      await page.eval(`location.hash = ""`);
      await page.waitFor("the overview again", `!document.getElementById("overview").hidden`);
      assert.equal(
        await page.eval<string>(`getComputedStyle(document.getElementById("project")).display`),
        "none",
      );
      await page.eval(`window.dispatchEvent(new Event("resize"))`);
      await new Promise((r) => setTimeout(r, 500));
      await page.waitFor(
        "the day chart at phone width",
        `document.querySelector("#by-day svg").getAttribute("width") <= 390`,
      );
      assert.ok(await page.eval<number>(`document.documentElement.scrollWidth`) <= 390);
      const fontPx = await page.eval<number>(
        `document.querySelector("#by-day text.tick").getBoundingClientRect().height`,
      );
      assert.ok(fontPx >= 11, `axis text ${fontPx} px high`);
      await Deno.writeFile(join(ARTIFACTS, "overview-390.png"), await page.screenshot());

      // Another zone by the address: its own days, its own exact totals.
      await page.goto(`${base}/?tz=Asia/Kolkata&refresh=5`);
      await page.waitFor(
        "the page in Kolkata's days",
        `document.getElementById("window").textContent.includes("Asia/Kolkata")`,
      );
      const kolkata = await api("since=30d&by=project&tz=Asia/Kolkata");
      assert.equal(
        await page.eval<number>(tileMillicents("tiles", "billed")),
        kolkata.total.billed_cost_millicents,
      );

      // A call stored while the page is open shows up without a reload.
      const writer = openStore(home.paths.db);
      try {
        const calls = new CallInserter(writer);
        const project = (writer.prepare("SELECT id FROM projects LIMIT 1").get() as { id: string }).id;
        writer.exec("BEGIN");
        calls.insert(
          makeRow({ requested_at: new Date().toISOString(), cost_usd_minor_units: 777_777 }),
          project,
        );
        calls.beforeCommit();
        writer.exec("COMMIT");
      } finally {
        writer.close();
      }
      // Billed through the API (not a subscription): billed spend grows by its cost.
      const grown = kolkata.total.billed_cost_millicents + 777_777;
      await page.waitFor("the refreshed spend", `${tileMillicents("tiles", "billed")} === ${grown}`, 30_000);

      // A project none of whose calls could be priced: its spend is "?", never "≥ $0.00".
      const unpriced = openStore(home.paths.db);
      try {
        const id = new RowWriter(unpriced).projectId("unpriced-only");
        const calls = new CallInserter(unpriced);
        unpriced.exec("BEGIN");
        calls.insert(
          makeRow({
            requested_at: new Date().toISOString(),
            model: "no-such-model",
            cost_usd_minor_units: null,
          }),
          id,
        );
        calls.beforeCommit();
        unpriced.exec("COMMIT");
      } finally {
        unpriced.close();
      }
      await page.goto(`${base}/?tz=Asia/Kolkata#project=unpriced-only`);
      await page.waitFor(
        "the unpriced project's tiles",
        `document.querySelector('#project-tiles [data-tile="billed"] b')?.textContent === "?"`,
        30_000,
      );

      assert.deepEqual(page.errors, []);
      // An address naming no project, or one that does not decode: said plainly, nothing of another shown (the
      // browser logs the API's 404s, and nothing else).
      for (const hash of ["nope", "%E0"]) {
        await page.eval(`location.hash = "project=${hash}"`);
        await page.waitFor(
          `the page on #project=${hash}`,
          `document.getElementById("status").textContent.startsWith("No project is named")`,
          30_000,
        );
        assert.equal(await page.eval<number>(`document.querySelectorAll("#project-tiles .tile").length`), 0);
      }
      assert.ok(page.errors.every((e) => / 404 .*&project=(nope|%25E0)$/.test(e)), page.errors.join("\n"));
      page.errors.length = 0;

      assert.deepEqual(page.errors, []);
    } finally {
      await stop(daemon);
    }
  },
});
