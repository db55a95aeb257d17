import assert from "node:assert/strict";
import { parseInvocation } from "../../cli/command.ts";
import { createReportCommand } from "../../cli/report.ts";
import { runCli } from "../helpers/cli.ts";
import { tempHome } from "../helpers/home.ts";
import { captureIo } from "../helpers/io.ts";
import { writeFixture } from "../helpers/report_fixture.ts";

/**
 * Eight calls around 2026-03-08, the day the US moved to summer time (02:00 in Los Angeles, 10:00 UTC). Each
 * costs a different power of ten, so a day's cost, written out, says which calls it holds.
 */
const CALLS: [string, number][] = [
  ["2026-03-07T23:30:00.000Z", 1], // LA Mar 7 15:30 · Kolkata Mar 8 05:00 · Kathmandu Mar 8 05:15
  ["2026-03-08T07:59:00.000Z", 10], // LA Mar 7 23:59 PST
  ["2026-03-08T08:00:00.000Z", 100], // LA Mar 8 00:00 PST
  ["2026-03-08T10:30:00.000Z", 1000], // LA Mar 8 03:30 PDT
  ["2026-03-08T18:29:59.999Z", 1_000_000], // Kolkata Mar 8 23:59:59.999 · Kathmandu Mar 9 00:14:59.999
  ["2026-03-08T18:30:00.000Z", 10_000_000], // Kolkata Mar 9 00:00
  ["2026-03-09T06:59:00.000Z", 10_000], // LA Mar 8 23:59 PDT
  ["2026-03-09T07:00:00.000Z", 100_000], // LA Mar 9 00:00 PDT
];

const report = createReportCommand(() => new Date("2026-03-20T12:00:00.000Z"));

async function byDay(
  zone: string,
): Promise<{ window: { from: string; to: string }; days: [string, number][] }> {
  await using home = await tempHome();
  writeFixture(
    home.paths.db,
    CALLS.map(([requested_at, cost]) => ({ requested_at, cost_usd_minor_units: cost })),
  );
  const out = captureIo(home.paths);
  const argv = ["--from", "2026-03-07", "--to", "2026-03-09", "--by", "day", "--tz", zone, "--json"];
  assert.equal(await report.run(out.io, parseInvocation("report", report, argv)), 0);
  const doc = JSON.parse(out.stdout());
  assert.equal(doc.window.zone, zone);
  assert.equal(doc.total.cost_millicents, 11_111_111, "every call is in the three days of every zone");
  return {
    window: { from: doc.window.from, to: doc.window.to },
    days: doc.groups.map((g: { key: string; cost_millicents: number }) => [g.key, g.cost_millicents]),
  };
}

Deno.test("days in UTC", async () => {
  assert.deepEqual(await byDay("UTC"), {
    window: { from: "2026-03-07T00:00:00.000Z", to: "2026-03-10T00:00:00.000Z" },
    days: [["2026-03-07", 1], ["2026-03-08", 11_001_110], ["2026-03-09", 110_000]],
  });
});

Deno.test("days in a negative zone across a daylight-saving change: Los Angeles's 23-hour March 8", async () => {
  assert.deepEqual(await byDay("America/Los_Angeles"), {
    // Midnight PST is 08:00 UTC; after the change, midnight PDT is 07:00 UTC.
    window: { from: "2026-03-07T08:00:00.000Z", to: "2026-03-10T07:00:00.000Z" },
    days: [["2026-03-07", 11], ["2026-03-08", 11_011_100], ["2026-03-09", 100_000]],
  });
});

Deno.test("days at +05:30 (Kolkata): the half hour at each end is counted call by call", async () => {
  assert.deepEqual(await byDay("Asia/Kolkata"), {
    window: { from: "2026-03-06T18:30:00.000Z", to: "2026-03-09T18:30:00.000Z" },
    days: [["2026-03-07", 0], ["2026-03-08", 1_001_111], ["2026-03-09", 10_110_000]],
  });
});

Deno.test("days at +05:45 (Kathmandu)", async () => {
  assert.deepEqual(await byDay("Asia/Kathmandu"), {
    window: { from: "2026-03-06T18:15:00.000Z", to: "2026-03-09T18:15:00.000Z" },
    days: [["2026-03-07", 0], ["2026-03-08", 1111], ["2026-03-09", 11_110_000]],
  });
});

Deno.test("the machine's zone is the default, and [report] timezone in config.toml overrides it", async () => {
  await using home = await tempHome();
  writeFixture(
    home.paths.db,
    CALLS.map(([requested_at, cost]) => ({ requested_at, cost_usd_minor_units: cost })),
  );
  const argv = ["report", "--from", "2026-03-08", "--to", "2026-03-08", "--json"];
  const machine = await runCli(argv, { ...home.env, TZ: "America/Los_Angeles" });
  assert.equal(machine.code, 0, machine.stderr);
  assert.equal(JSON.parse(machine.stdout).window.zone, "America/Los_Angeles");
  assert.equal(JSON.parse(machine.stdout).total.cost_millicents, 11_011_100);
  await Deno.writeTextFile(home.paths.config, '[report]\ntimezone = "Asia/Kolkata"\n');
  const configured = await runCli(argv, { ...home.env, TZ: "America/Los_Angeles" });
  assert.equal(JSON.parse(configured.stdout).window.zone, "Asia/Kolkata");
  assert.equal(JSON.parse(configured.stdout).total.cost_millicents, 1_001_111);
  const flag = await runCli([...argv, "--tz", "UTC"], { ...home.env, TZ: "America/Los_Angeles" });
  assert.equal(JSON.parse(flag.stdout).total.cost_millicents, 11_001_110);
  await Deno.writeTextFile(home.paths.config, '[report]\ntimezone = "Mars/Olympus"\n');
  const bad = await runCli(argv, home.env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /line 2, key report\.timezone\): expected an IANA time zone name/);
});
