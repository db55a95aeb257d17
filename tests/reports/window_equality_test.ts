import assert from "node:assert/strict";
import { parseInvocation } from "../../cli/command.ts";
import { createReportCommand } from "../../cli/report.ts";
import { readApiRoute } from "../../daemon/api/read/routes.ts";
import { openStore } from "../../store/open.ts";
import { tempHome } from "../helpers/home.ts";
import { captureIo } from "../helpers/io.ts";
import { NOW, writeFixture } from "../helpers/report_fixture.ts";

/** The same questions asked of `report --json` and of `/v1/report`. */
const CASES: { argv: string[]; query: string }[] = [
  { argv: [], query: "" },
  {
    argv: ["--since", "7d", "--by", "day", "--tz", "America/Los_Angeles"],
    query: "since=7d&by=day&tz=America/Los_Angeles",
  },
  { argv: ["--since", "24h", "--by", "model", "--vs-previous"], query: "since=24h&by=model&vs_previous=1" },
  {
    argv: ["--since", "2w", "--by", "week", "--vs-previous", "--tz", "Asia/Kolkata"],
    query: "since=2w&by=week&vs_previous=1&tz=Asia/Kolkata",
  },
  { argv: ["--since", "1m", "--by", "month", "--project", "beta"], query: "since=1m&by=month&project=beta" },
  {
    argv: ["--from", "2026-11-10", "--to", "2026-11-24", "--by", "provider", "--tz", "Asia/Kathmandu"],
    query: "from=2026-11-10&to=2026-11-24&by=provider&tz=Asia/Kathmandu",
  },
  {
    argv: ["--since", "2026-11-20", "--by", "day", "--vs-previous"],
    query: "since=2026-11-20&by=day&vs_previous=1",
  },
];

Deno.test("report --json and the read API's /v1/report give the same document for every window", async () => {
  await using home = await tempHome();
  writeFixture(home.paths.db);
  const report = createReportCommand(() => NOW);
  const db = openStore(home.paths.db, { readOnly: true });
  try {
    // The daemon's zone is UTC here; the command gets the same through --tz when a case names none.
    const route = readApiRoute({ db, allowOrigins: [], now: () => NOW, timeZone: "UTC" });
    for (const { argv, query } of CASES) {
      const out = captureIo(home.paths);
      const zone = argv.includes("--tz") ? [] : ["--tz", "UTC"];
      await report.run(out.io, parseInvocation("report", report, [...argv, ...zone, "--json"]));
      const res = await route(new Request(`http://127.0.0.1/v1/report?${query}`));
      assert.equal(res?.status, 200, query);
      const api = await res!.json();
      assert.deepEqual(api, JSON.parse(out.stdout()), query);
      assert.ok(
        api.total.requests > 0 || query.includes("24h"),
        `${query} found no calls: a vacuous comparison`,
      );
    }
  } finally {
    db.close();
  }
});

Deno.test("/v1/report answers 400 for a bad window, zone or grouping and 404 for an unknown project", async () => {
  await using home = await tempHome();
  writeFixture(home.paths.db);
  const db = openStore(home.paths.db, { readOnly: true });
  try {
    const route = readApiRoute({ db, allowOrigins: [], now: () => NOW });
    const ask = async (query: string) => {
      const res = (await route(new Request(`http://127.0.0.1/v1/report?${query}`)))!;
      return { status: res.status, body: await res.json() };
    };
    assert.deepEqual(await ask("since=1q"), {
      status: 400,
      body: {
        error: "bad request",
        message:
          "since expects a span like 24h, 7d, 2w or 1m (hours, days, weeks, months), or a date YYYY-MM-DD; got '1q'",
      },
    });
    assert.equal((await ask("since=2026-02-30")).status, 400);
    assert.match((await ask("tz=Mars/Olympus")).body.message, /unknown time zone 'Mars\/Olympus'/);
    assert.equal((await ask("by=hour")).status, 400);
    assert.deepEqual(await ask("project=alpah"), {
      status: 404,
      body: { error: "not found", message: "no project is named 'alpah'" },
    });
  } finally {
    db.close();
  }
});
