import assert from "node:assert/strict";
import { parseInvocation } from "../../cli/command.ts";
import { createReportCommand, parseFromTo, parseSince, previousWindow } from "../../cli/report.ts";
import { UsageError } from "../../core/errors.ts";
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
  const code = await report.run(out.io, parseInvocation("report", report, argv));
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
  cost_is_lower_bound: false,
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
  assert.deepEqual(doc, {
    window: { from: "2026-11-18T12:00:00.000Z", to: "2026-11-25T12:00:00.000Z", label: "last 7 days" },
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
  assert.deepEqual(doc.previous.window, { from: "2026-11-11T12:00:00.000Z", to: "2026-11-18T12:00:00.000Z" });
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
  assert.deepEqual(pick(await json(["--by", "day"])), [
    ["2026-11-19", 1, 700],
    ["2026-11-20", 1, 250_000],
    ["2026-11-21", 1, 0],
    ["2026-11-22", 1, 0],
    ["2026-11-23", 1, 1000],
    ["2026-11-24", 1, 1_234_567],
  ]);
});

Deno.test("report --from/--to covers whole UTC days, both ends included", async () => {
  const doc = await json(["--from", "2026-11-20", "--to", "2026-11-22"]);
  assert.deepEqual(doc.window, {
    from: "2026-11-20T00:00:00.000Z",
    to: "2026-11-23T00:00:00.000Z",
    label: "2026-11-20 to 2026-11-22",
  });
  // B (Nov 20), F (Nov 21), D (Nov 22).
  assert.equal(doc.total.requests, 3);
  assert.equal(doc.total.cost_millicents, 250_000);
  assert.equal(doc.total.unknown_cost_requests, 1);
});

Deno.test("report --since takes hours, weeks and dates", async () => {
  assert.deepEqual((await json(["--since", "24h"])).groups.map((g: { key: string }) => g.key), ["alpha"]);
  const since = await json(["--since", "2026-11-23"]);
  assert.equal(since.window.from, "2026-11-23T00:00:00.000Z");
  assert.equal(since.total.cost_millicents, 1_234_567 + 1000);
  // Two weeks reach back to Nov 11 noon: G, H and J join the six calls of the last week.
  assert.equal((await json(["--since", "2w"])).total.requests, 9);
});

Deno.test("report --project shows one project's calls", async () => {
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

Deno.test("report --project with a name no project has prints an empty report and suggests one", async () => {
  const r = await run(["--project", "alpah"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /No metered calls in this window\./);
  assert.match(r.stdout, /No project is named 'alpah'\. Did you mean 'alpha'\?/);
  const j = await run(["--project", "alpah", "--json"]);
  assert.deepEqual(JSON.parse(j.stdout).groups, []);
  assert.equal(j.stderr, "No project is named 'alpah'. Did you mean 'alpha'?\n");
});

Deno.test("report prints a table with a total row, dollars and notes on unknown and incomplete calls", async () => {
  const r = await run([]);
  assert.equal(r.code, 0);
  const lines = r.stdout.split("\n");
  assert.equal(lines[0], "Spend by project, last 7 days (2026-11-18 12:00 → 2026-11-25 12:00 UTC)");
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
  assert.match(r.stdout, /^Compared with 2026-11-11 12:00 → 2026-11-18 12:00 UTC\.$/m);
  const row = (label: string) =>
    r.stdout.split("\n").find((l) => l.startsWith(label + " "))!.split(/ +/).slice(-2);
  // With subscription traffic in the window, the change compares billed spend: alpha's $14.84567 (E's
  // subscription $0.01 left out) against $6.17284.
  assert.deepEqual(row("alpha"), ["$6.17", "+140.5%"]);
  assert.deepEqual(row("beta"), ["$0.00", "new"]);
  assert.deepEqual(row("gamma"), ["$0.05", "-100.0%"]);
  assert.deepEqual(row("TOTAL"), ["$6.22", "+138.7%"]);
});

Deno.test("report fits the table to a narrow terminal, shortening long labels in the middle", async () => {
  await using home = await tempHome();
  writeFixture(home.paths.db, [{
    project: "a-very-long-project-name-for-testing",
    requested_at: "2026-11-24T00:00:00.000Z",
    input_tokens: 123_456_789,
    output_tokens: 98_765_432,
    cost_usd_minor_units: 123_456_789,
  }]);
  for (const columns of [140, 80, 72]) {
    const out = captureIo(home.paths, { columns });
    await report.run(out.io, parseInvocation("report", report, []));
    const table = out.stdout().split("\n").filter((l) => /^(PROJECT|a-|TOTAL|─)/.test(l));
    assert.equal(table.length, 5);
    for (const line of table) assert.ok(line.length <= columns, `${line.length} > ${columns}: ${line}`);
    if (columns === 140) assert.match(out.stdout(), /123,456,789/);
    else assert.match(out.stdout(), /123M/);
    assert.match(out.stdout(), /\$1,234\.57/);
    if (columns === 80) assert.match(table[2], /^a-very-l…testing /);
  }
});

Deno.test("report --csv prints a header and one line per group, without a total line", async () => {
  const r = await run(["--csv"]);
  assert.equal(
    r.stdout,
    "project,requests,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,thinking_tokens," +
      "cost_millicents,cost_usd,billed_cost_millicents,unknown_cost_requests,unknown_cost_tokens," +
      "subscription_requests,subscription_cost_millicents,incomplete_requests,error_requests,cost_is_lower_bound\r\n" +
      "alpha,3,3100,650,5300,1500,200,1485567,14.85567,1484567,0,0,1,1000,1,0,false\r\n" +
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
  assert.match(out.stdout(), /^Spend by project, last 7 days .*\nNo metered calls yet\. /);
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
  assert.match((await usageError(["--since", "7x"])).message, /--since expects a span like 7d, 24h or 2w/);
  assert.match((await usageError(["--since", "0d"])).message, /--since expects/);
  assert.match((await usageError(["--from", "2026-02-30"])).message, /--from expects a date YYYY-MM-DD/);
  assert.match((await usageError(["--from", "2026-11-05", "--to", "2026-11-01"])).message, /before --from/);
  assert.match((await usageError(["--to", "2026-11-05"])).message, /--to needs --from/);
  assert.match(
    (await usageError(["--since", "7d", "--from", "2026-11-01"])).message,
    /either --since or --from/,
  );
  assert.match((await usageError(["--json", "--csv"])).message, /one of --json and --csv/);
  const by = await usageError(["--by", "modle"]);
  assert.match(by.message, /--by expects one of project, model, provider, day; got 'modle'/);
  assert.equal(by.hint, "Did you mean --by model?");
});

Deno.test("parseSince(), parseFromTo() and previousWindow() compute the windows", () => {
  assert.deepEqual(parseSince("1d", NOW), {
    from: "2026-11-24T12:00:00.000Z",
    to: "2026-11-25T12:00:00.000Z",
    label: "last day",
  });
  assert.equal(parseSince("2w", NOW).from, "2026-11-11T12:00:00.000Z");
  assert.equal(parseFromTo("2026-11-01", "2026-11-01", NOW).to, "2026-11-02T00:00:00.000Z");
  assert.equal(parseFromTo("2026-11-01", undefined, NOW).to, NOW.toISOString());
  assert.deepEqual(previousWindow({ from: "2026-11-20T00:00:00.000Z", to: "2026-11-23T00:00:00.000Z" }), {
    from: "2026-11-17T00:00:00.000Z",
    to: "2026-11-20T00:00:00.000Z",
  });
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
