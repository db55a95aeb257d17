import assert from "node:assert/strict";
import { parseInvocation } from "../../cli/command.ts";
import { createReportCommand } from "../../cli/report.ts";
import { parseFromTo, parseSince, previousWindow } from "../../reports/window.ts";
import { UsageError } from "../../core/errors.ts";
import { UnknownProjectError } from "../../reports/report.ts";
import { runCli } from "../helpers/cli.ts";
import { tempHome } from "../helpers/home.ts";
import { captureIo } from "../helpers/io.ts";
import { NOW, writeFixture } from "../helpers/report_fixture.ts";

const report = createReportCommand(() => NOW);

/** Runs `report <argv>` in-process on a home holding the fixture; returns exit code and output. */
async function run(argv: string[], options: { columns?: number; empty?: boolean } = {}) {
  await using home = await tempHome();
  if (!options.empty) writeFixture(home.paths.db);
  const out = captureIo(home.paths, { columns: options.columns ?? 120 });
  // Days in UTC unless a test chooses a zone: the machine's zone is not the test's to rely on.
  const zone = argv.includes("--tz") ? [] : ["--tz", "UTC"];
  const code = await report.run(out.io, parseInvocation("report", report, [...argv, ...zone]));
  return { code, stdout: out.stdout(), stderr: out.stderr() };
}

async function json(argv: string[]) {
  const r = await run([...argv, "--json"]);
  assert.equal(r.code, 0);
  return JSON.parse(r.stdout);
}

async function usageError(argv: string[]): Promise<UsageError> {
  try {
    await run(argv);
  } catch (e) {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${e}`);
    return e;
  }
  assert.fail(`report accepted ${argv.join(" ")}`);
}

// Sums worked out by hand from tests/helpers/report_fixture.ts. Last 7 days: alpha = A + B + E, beta = C + D + F.
const ALPHA = {
  key: "alpha",
  requests: 3,
  input_tokens: 3100,
  output_tokens: 650,
  cache_read_tokens: 5300,
  cache_write_tokens: 1500,
  thinking_tokens: 200,
  cost_millicents: 1_485_567,
  cost_usd: "14.85567",
  // E was billed to a ChatGPT subscription: $0.01 of the cost is its API equivalent, not spend.
  billed_cost_millicents: 1_484_567,
  subscription_requests: 1,
  subscription_cost_millicents: 1000,
  unknown_cost_requests: 0,
  unknown_cost_tokens: 0,
  // A's stream was cut short: its tokens, and so the cost, are only what was seen.
  cost_is_lower_bound: true,
  incomplete_requests: 1,
  error_requests: 0,
};
const BETA = {
  key: "beta",
  requests: 3,
  input_tokens: 410,
  output_tokens: 45,
  cache_read_tokens: 0,
  cache_write_tokens: 0,
  thinking_tokens: 0,
  cost_millicents: 700,
  cost_usd: "0.00700",
  billed_cost_millicents: 700,
  subscription_requests: 0,
  subscription_cost_millicents: 0,
  // D (mystery-model, 400 in + 40 out) has no rate: every cost of beta is a lower bound.
  unknown_cost_requests: 1,
  unknown_cost_tokens: 440,
  cost_is_lower_bound: true,
  incomplete_requests: 0,
  error_requests: 1,
};
const { key: _a, ...alphaTotals } = ALPHA;
const TOTAL = {
  ...alphaTotals,
  requests: 6,
  input_tokens: 3510,
  output_tokens: 695,
  cost_millicents: 1_486_267,
  cost_usd: "14.86267",
  billed_cost_millicents: 1_485_267,
  unknown_cost_requests: 1,
  unknown_cost_tokens: 440,
  cost_is_lower_bound: true,
  error_requests: 1,
};

Deno.test("report --json gives the last 7 days by project, with totals and unknown-cost models", async () => {
  const doc = await json([]);
  // Today so far (Nov 25 until noon) and the six days before, from midnight.
  assert.deepEqual(doc, {
    window: {
      from: "2026-11-19T00:00:00.000Z",
      to: "2026-11-25T12:00:00.000Z",
      label: "last 7 days",
      zone: "UTC",
    },
    by: "project",
    project: null,
    groups: [ALPHA, BETA],
    total: TOTAL,
    unknown_cost_models: [{ provider: "openai", model: "mystery-model", requests: 1 }],
  });
});

Deno.test("report --vs-previous adds each group's previous week and the change in cost", async () => {
  const doc = await json(["--vs-previous"]);
  // The week before: alpha = G + J (617,284 mc), gamma = H (5,000 mc); beta had nothing.
  assert.deepEqual(
    doc.groups.map((g: Record<string, unknown>) => [
      g.key,
      g.cost_millicents,
      (g.previous as Record<string, unknown>).cost_millicents,
      g.cost_change_pct,
    ]),
    [
      ["alpha", 1_485_567, 617_284, 140.7],
      ["beta", 700, 0, null],
      ["gamma", 0, 5000, -100],
    ],
  );
  assert.deepEqual(doc.previous.window, { from: "2026-11-12T00:00:00.000Z", to: "2026-11-19T00:00:00.000Z" });
  assert.equal(doc.previous.total.requests, 3);
  assert.equal(doc.previous.total.cost_usd, "6.22284");
  assert.equal(doc.previous.cost_change_pct, 138.8);
});

Deno.test("report --by model, provider and day group the week's calls by those keys", async () => {
  const pick = (doc: { groups: Record<string, unknown>[] }) =>
    doc.groups.map((g) => [g.key, g.requests, g.cost_millicents]);
  assert.deepEqual(pick(await json(["--by", "model"])), [
    ["gpt-5", 3, 1_236_267],
    ["claude-sonnet-4-5", 2, 250_000],
    ["mystery-model", 1, 0],
  ]);
  assert.deepEqual(pick(await json(["--by=provider"])), [["openai", 4, 1_236_267], [
    "anthropic",
    2,
    250_000,
  ]]);
  // Every day of the window, those without calls too.
  assert.deepEqual(pick(await json(["--by", "day"])), [
    ["2026-11-19", 1, 700],
    ["2026-11-20", 1, 250_000],
    ["2026-11-21", 1, 0],
    ["2026-11-22", 1, 0],
    ["2026-11-23", 1, 1000],
    ["2026-11-24", 1, 1_234_567],
    ["2026-11-25", 0, 0],
  ]);
});

Deno.test("report --from/--to covers whole days, both ends included", async () => {
  const doc = await json(["--from", "2026-11-20", "--to", "2026-11-22"]);
  assert.deepEqual(doc.window, {
    from: "2026-11-20T00:00:00.000Z",
    to: "2026-11-23T00:00:00.000Z",
    label: "2026-11-20 to 2026-11-22",
    zone: "UTC",
  });
  // B (Nov 20), F (Nov 21), D (Nov 22).
  assert.equal(doc.total.requests, 3);
  assert.equal(doc.total.cost_millicents, 250_000);
  assert.equal(doc.total.unknown_cost_requests, 1);
});

Deno.test("report --since takes hours, days, weeks, months and dates", async () => {
  assert.deepEqual((await json(["--since", "24h"])).groups.map((g: { key: string }) => g.key), ["alpha"]);
  const since = await json(["--since", "2026-11-23"]);
  assert.equal(since.window.from, "2026-11-23T00:00:00.000Z");
  assert.equal(since.total.cost_millicents, 1_234_567 + 1000);
  // Nov 25 2026 is a Wednesday: 2w starts on Monday Nov 16, so G (Nov 15) and H (Nov 12) stay out; J joins.
  const twoWeeks = await json(["--since", "2w"]);
  assert.equal(twoWeeks.window.from, "2026-11-16T00:00:00.000Z");
  assert.equal(twoWeeks.total.requests, 7);
  // 1m is this month so far: every call of November before now.
  const month = await json(["--since", "1m"]);
  assert.equal(month.window.from, "2026-11-01T00:00:00.000Z");
  assert.equal(month.total.requests, 9);
  assert.equal((await json(["--since", "1d"])).total.requests, 0);
});

Deno.test("report --project shows one project's calls, named as run --project names them", async () => {
  assert.equal((await json(["--project", " Beta "])).total.requests, BETA.requests);
  const doc = await json(["--project", "beta", "--by", "model"]);
  assert.equal(doc.project, "beta");
  assert.deepEqual(doc.groups.map((g: { key: string }) => g.key), [
    "gpt-5",
    "claude-sonnet-4-5",
    "mystery-model",
  ]);
  const { key: _b, ...betaTotals } = BETA;
  assert.deepEqual(doc.total, betaTotals);
});

Deno.test("report --project with a name no project has fails (exit 1) and suggests the nearest", async () => {
  for (const extra of [[], ["--json"]]) {
    await assert.rejects(
      () => run(["--project", "alpah", ...extra]),
      (e: unknown) => {
        assert.ok(e instanceof UnknownProjectError);
        assert.equal(e.exitCode, 1);
        assert.equal(e.message, "no project is named 'alpah'");
        assert.match(e.hint!, /^Did you mean 'alpha'\?/);
        return true;
      },
    );
  }
});

Deno.test("report prints a table with a total row, dollars and notes on unknown and incomplete calls", async () => {
  const r = await run([]);
  assert.equal(r.code, 0);
  const lines = r.stdout.split("\n");
  assert.equal(lines[0], "Spend by project, last 7 days");
  assert.equal(lines[1], "2026-11-19 00:00 → 2026-11-25 12:00 (UTC)");
  const header = lines.find((l) => l.startsWith("PROJECT"))!;
  assert.deepEqual(header.split(/ {2,}/), [
    "PROJECT",
    "REQUESTS",
    "INPUT",
    "OUTPUT",
    "CACHE READ",
    "CACHE WRITE",
    "THINKING",
    "BILLED",
    "SUBSCRIPTION",
  ]);
  const row = (label: string) => lines.find((l) => l.startsWith(label + " "))!.split(/ +/);
  // E ($0.01) was billed to a subscription: apart from alpha's billed $14.85.
  assert.deepEqual(row("alpha"), ["alpha", "3", "3,100", "650", "5,300", "1,500", "200", "$14.85", "$0.01"]);
  // beta's only known cost is 700 mc, under a cent; one of its calls has no cost at all.
  assert.deepEqual(row("beta"), ["beta", "3", "410", "45", "0", "0", "0", "<", "$0.01*", "-"]);
  assert.deepEqual(row("TOTAL"), ["TOTAL", "6", "3,510", "695", "5,300", "1,500", "200", "$14.85*", "$0.01"]);
  assert.match(
    r.stdout,
    /\* 1 call has no known cost \(440 tokens\), for want of a rate for mystery-model \(1\)/,
  );
  const text = r.stdout.replace(/\s+/g, " ");
  assert.match(text, /costs marked \* leave them out and are lower bounds\./);
  assert.match(
    text,
    /1 call was billed to a subscription .* would have cost at API rates \(\$0\.01\), not spend\./,
  );
  assert.match(r.stdout, /1 call has incomplete token counts/);
  assert.match(r.stdout, /1 call ended in an error\./);
});

Deno.test("report --vs-previous in a table adds PREVIOUS and CHANGE columns", async () => {
  const r = await run(["--vs-previous"]);
  assert.match(r.stdout, /^Compared with 2026-11-12 → 2026-11-18 \(UTC\)\.$/m);
  const row = (label: string) =>
    r.stdout.split("\n").find((l) => l.startsWith(label + " "))!.split(/ +/).slice(-2);
  // With subscription traffic in the window, the change compares billed spend: alpha's $14.84567 (E's
  // subscription $0.01 left out) against $6.17284.
  assert.deepEqual(row("alpha"), ["$6.17", "+140.5%"]);
  assert.deepEqual(row("beta"), ["$0.00", "new"]);
  assert.deepEqual(row("gamma"), ["$0.05", "-100.0%"]);
  assert.deepEqual(row("TOTAL"), ["$6.22", "+138.7%"]);
});

Deno.test("report fits the table to the terminal: full counts when wide, units per column, compact below 80", async () => {
  await using home = await tempHome();
  const call = (model: string, input: number, project = "a-very-long-project-name-for-testing") => ({
    project,
    model,
    requested_at: "2026-11-24T00:00:00.000Z",
    input_tokens: input,
    output_tokens: 1000,
    cost_usd_minor_units: 123_456_789,
  });
  writeFixture(home.paths.db, [
    call("claude-sonnet-4-5", 123_456_789),
    call("claude-haiku-4-5", 9_633, "short"),
    ...Array.from({ length: 14 }, () => call("claude-haiku-4-5", 1000, "short")),
  ]);
  for (const columns of [140, 100, 80, 72, 60, 40]) {
    for (const by of ["model", "project"]) {
      const out = captureIo(home.paths, { columns });
      await report.run(
        out.io,
        parseInvocation("report", report, ["--by", by, "--vs-previous", "--tz", "UTC"]),
      );
      const text = out.stdout();
      const lines = text.split("\n");
      for (const line of lines) {
        assert.ok([...line].length <= columns, `${[...line].length} > ${columns}: ${line}`);
      }
      const header = lines.findIndex((l) => /^(MODEL|PROJECT) /.test(l));
      const rows = lines.slice(header + 2, header + 4).map((l) => l.split(/ {2,}/));
      const labels = rows.map((r) => r[0]);
      assert.notEqual(labels[0], labels[1], `two groups print alike at ${columns}: ${labels}`);
      const headers = lines[header].split(/ {2,}/);
      if (columns < 80 && columns >= 60) {
        assert.deepEqual(headers.slice(1), ["REQUESTS", "TOKENS", "COST", "PREVIOUS", "CHANGE"], text);
      }
      // Narrower still, the least needed columns go first; the cost and its change stay.
      if (columns < 60) assert.deepEqual(headers.slice(-2), ["COST", "CHANGE"], text);
      // One number format per column: all with thousands separators, or all with units.
      const requests = rows.map((r) => r[1]);
      const units = requests.some((c) => /[kMB]$/.test(c));
      for (const c of requests) assert.ok(units ? !c.includes(",") : /^[\d,]+$/.test(c), `${requests}`);
    }
  }
  const wide = captureIo(home.paths, { columns: 140 });
  await report.run(wide.io, parseInvocation("report", report, ["--by", "model", "--tz", "UTC"]));
  assert.match(wide.stdout(), /claude-sonnet-4-5 +1 +123,456,789/);
  const narrow = captureIo(home.paths, { columns: 60 });
  await report.run(narrow.io, parseInvocation("report", report, ["--by", "project", "--tz", "UTC"]));
  assert.match(narrow.stdout(), /^a-very-long-pro…me-for-testing +1 +123M +\$1,234\.57$/m);
});

Deno.test("report colours headers, totals and notes only when asked to", async () => {
  const plain = await run([]);
  assert.ok(!plain.stdout.includes("\x1b["));
  await using home = await tempHome();
  writeFixture(home.paths.db);
  const out = captureIo(home.paths, { columns: 120 });
  const io = { ...out.io, color: true };
  await report.run(io, parseInvocation("report", report, ["--tz", "UTC"]));
  const [bold, red, reset] = ["\x1b[1m", "\x1b[31m", "\x1b[0m"];
  const lines = out.stdout().split("\n");
  assert.equal(lines[0], `${bold}Spend by project, last 7 days${reset}`);
  const total = lines.find((l) => l.startsWith(`${bold}TOTAL `));
  assert.ok(total?.endsWith(reset), "the total line in bold");
  assert.ok(lines.includes(`${red}1 call ended in an error.${reset}`), "errors in red");
});

Deno.test("report --csv prints a header and one line per group, without a total line", async () => {
  const r = await run(["--csv"]);
  assert.equal(
    r.stdout,
    "project,requests,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,thinking_tokens," +
      "cost_millicents,cost_usd,billed_cost_millicents,unknown_cost_requests,unknown_cost_tokens," +
      "subscription_requests,subscription_cost_millicents,incomplete_requests,error_requests,cost_is_lower_bound\r\n" +
      "alpha,3,3100,650,5300,1500,200,1485567,14.85567,1484567,0,0,1,1000,1,0,true\r\n" +
      "beta,3,410,45,0,0,0,700,0.00700,700,1,440,0,0,0,1,true\r\n",
  );
  const prev = await run(["--csv", "--vs-previous"]);
  const lines = prev.stdout.trimEnd().split("\r\n");
  assert.match(lines[0], /,previous_requests,previous_cost_millicents,previous_cost_usd,cost_change_pct$/);
  assert.match(lines[1], /^alpha,.*,2,617284,6.17284,140.7$/);
  assert.match(lines[2], /^beta,.*,0,0,0.00000,$/);
});

Deno.test("report on a missing database says there is nothing yet, exits 0 and creates nothing", async () => {
  await using home = await tempHome();
  const out = captureIo(home.paths);
  assert.equal(await report.run(out.io, parseInvocation("report", report, [])), 0);
  assert.match(out.stdout(), /^Spend by project, last 7 days\n.*\nNo metered calls yet\. /);
  await assert.rejects(Deno.stat(home.home), Deno.errors.NotFound);
  const j = captureIo(home.paths);
  await report.run(j.io, parseInvocation("report", report, ["--json"]));
  assert.deepEqual(JSON.parse(j.stdout()).groups, []);
  assert.equal(JSON.parse(j.stdout()).total.cost_usd, "0.00000");
  assert.equal(j.stderr(), "No metered calls yet.\n");
  await assert.rejects(Deno.stat(home.home), Deno.errors.NotFound);
});

Deno.test("report on a database without calls says so too", async () => {
  const r = await run(["--by", "day"], { empty: true });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /No metered calls yet\./);
});

Deno.test("report rejects malformed and conflicting flags with a usage error", async () => {
  assert.match(
    (await usageError(["--since", "7x"])).message,
    /--since expects a span like 24h, 7d, 2w or 1m/,
  );
  assert.match((await usageError(["--since", "0d"])).message, /--since needs a span of at least 1/);
  assert.match((await usageError(["--since", "2026-02-30"])).message, /--since expects/);
  assert.match((await usageError(["--since", "2026-11-26"])).message, /after today \(2026-11-25, UTC\)/);
  assert.match((await usageError(["--tz", "Mars/Olympus"])).message, /unknown time zone 'Mars\/Olympus'/);
  assert.match((await usageError(["--from", "2026-02-30"])).message, /--from expects a date YYYY-MM-DD/);
  assert.match((await usageError(["--from", "2026-11-05", "--to", "2026-11-01"])).message, /before --from/);
  assert.match((await usageError(["--to", "2026-11-05"])).message, /--to needs --from/);
  assert.match(
    (await usageError(["--since", "7d", "--from", "2026-11-01"])).message,
    /either --since or --from/,
  );
  assert.match((await usageError(["--json", "--csv"])).message, /one of --json and --csv/);
  const by = await usageError(["--by", "modle"]);
  assert.match(by.message, /--by expects one of project, model, provider, day, week, month; got 'modle'/);
  assert.equal(by.hint, "Did you mean --by model?");
});

Deno.test("parseSince(), parseFromTo() and previousWindow() compute the windows", () => {
  assert.deepEqual(parseSince("1d", NOW, "UTC", "report"), {
    from: "2026-11-25T00:00:00.000Z",
    to: "2026-11-25T12:00:00.000Z",
    zone: "UTC",
    label: "today",
    span: { unit: "day", n: 1 },
  });
  assert.equal(parseSince("24h", NOW, "UTC", "report").from, "2026-11-24T12:00:00.000Z");
  // Los Angeles is at UTC-8 in November: its today began at 08:00 UTC.
  assert.equal(parseSince("1d", NOW, "America/Los_Angeles", "report").from, "2026-11-25T08:00:00.000Z");
  assert.equal(parseFromTo("2026-11-01", "2026-11-01", NOW, "UTC", "report").to, "2026-11-02T00:00:00.000Z");
  assert.equal(parseFromTo("2026-11-01", undefined, NOW, "UTC", "report").to, NOW.toISOString());
  const days = parseFromTo("2026-11-20", "2026-11-22", NOW, "UTC", "report");
  assert.deepEqual([previousWindow(days).from, previousWindow(days).to], [
    "2026-11-17T00:00:00.000Z",
    "2026-11-20T00:00:00.000Z",
  ]);
  // A month before a month, whatever their lengths: March before April.
  const april = parseFromTo("2026-04-01", "2026-04-30", NOW, "UTC", "report");
  const month = { ...april, span: { unit: "month" as const, n: 1 } };
  assert.equal(previousWindow(month).from, "2026-03-01T00:00:00.000Z");
});

Deno.test("halton-meter report as a process: friendly on a fresh home, a table once calls exist", async () => {
  await using home = await tempHome();
  const fresh = await runCli(["report"], home.env);
  assert.equal(fresh.code, 0);
  assert.match(fresh.stdout, /No metered calls yet\./);
  await assert.rejects(Deno.stat(home.paths.db), Deno.errors.NotFound);
  writeFixture(home.paths.db);
  const r = await runCli(
    ["report", "--from", "2026-11-18", "--to", "2026-11-24", "--by", "provider"],
    home.env,
  );
  assert.equal(r.code, 0, r.stderr);
  // A..F and J (Nov 18, 11:59): openai = A C D E J, anthropic = B F.
  assert.match(r.stdout, /^openai +5 /m);
  assert.match(r.stdout, /^anthropic +2 /m);
  assert.match(r.stdout, /^TOTAL +7 .* \$14\.85\* +\$0\.01$/m);
});
