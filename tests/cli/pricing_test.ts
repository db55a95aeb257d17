import assert from "node:assert/strict";
import { join } from "node:path";
import { parseSince } from "../../cli/pricing.ts";
import { COMMANDS } from "../../cli/mod.ts";
import { resolveCommand } from "../../cli/dispatch.ts";
import { type Io, parseInvocation } from "../../cli/command.ts";
import { MeterError, UsageError } from "../../core/errors.ts";
import { resolvePaths } from "../../core/paths.ts";
import { openStore } from "../../store/open.ts";
import { RowWriter } from "../../store/writer.ts";
import type { UsageRow } from "../../store/rows.ts";
import { makeRow } from "../helpers/rows.ts";

const DAY = 86_400_000;
const BUNDLED = "bundled-2026-12-06";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function withHome(fn: (home: string, run: (...argv: string[]) => Promise<Run>) => Promise<void>) {
  const home = await Deno.makeTempDir({ prefix: "halton-pricing-" });
  const paths = resolvePaths({ HALTON_METER_HOME: home, HOME: home }, "linux");
  const run = async (...argv: string[]): Promise<Run> => {
    const out: Run = { code: 0, stdout: "", stderr: "" };
    const io: Io = {
      stdout: (s) => out.stdout += s,
      stderr: (s) => out.stderr += s,
      env: { HALTON_METER_HOME: home },
      paths,
      columns: 120,
      color: false,
    };
    const r = await resolveCommand(COMMANDS, ["pricing", ...argv]);
    if (r.kind !== "command") throw new Error(`'pricing ${argv.join(" ")}' names no subcommand`);
    out.code = await r.command.run(io, parseInvocation(r.name, r.command, r.argv));
    return out;
  };
  try {
    await fn(home, run);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

function row(id: string, daysAgo: number, fields: Partial<UsageRow>): UsageRow {
  return makeRow({
    id,
    requested_at: new Date(Date.now() - daysAgo * DAY).toISOString(),
    project: "demo",
    model: null,
    cost_usd_minor_units: null,
    rates_source: null,
    ...fields,
  });
}

/** Seeds the database through the daemon's own writer. */
function seed(home: string) {
  const db = openStore(join(home, "db.sqlite"));
  const writer = new RowWriter(db);
  writer.enqueue(row("imaginary-1", 3, { model: "gpt-9-imaginary", input_tokens: 1000, output_tokens: 100 }));
  writer.enqueue(row("imaginary-2", 1, { model: "gpt-9-imaginary", input_tokens: 1000, output_tokens: 100 }));
  writer.enqueue(
    row("gemini-new", 2, {
      provider: "google",
      model: "gemini-2.5-pro",
      input_tokens: 2000,
      output_tokens: 1000,
    }),
  );
  writer.enqueue(
    row("gemini-old", 60, {
      provider: "google",
      model: "gemini-2.5-pro",
      input_tokens: 2000,
      output_tokens: 1000,
    }),
  );
  writer.enqueue(row("sonnet-stale", 5, {
    provider: "anthropic",
    model: "claude-sonnet-4-5-20250929",
    input_tokens: 1000,
    output_tokens: 500,
    cost_usd_minor_units: 999,
    rates_source: "bundled-2020-01-01",
  }));
  writer.enqueue(row("grok-ticks", 5, {
    provider: "xai",
    model: "grok-3",
    input_tokens: 1000,
    output_tokens: 1000,
    cost_usd_minor_units: 5,
    rates_source: "xai:cost_in_usd_ticks",
  }));
  writer.close();
  db.close();
}

function costs(home: string): Record<string, [number | null, string | null]> {
  const db = openStore(join(home, "db.sqlite"), { readOnly: true });
  try {
    const rows = db.prepare("SELECT id, cost_usd_minor_units AS c, rates_source AS s FROM requests")
      .all() as {
        id: string;
        c: number | null;
        s: string | null;
      }[];
    return Object.fromEntries(rows.map((r) => [r.id, [r.c, r.s]]));
  } finally {
    db.close();
  }
}

Deno.test("pricing unknown lists models seen without a cost, with counts and first/last seen", async () => {
  await withHome(async (home, run) => {
    seed(home);
    const out = await run("unknown", "--json");
    assert.equal(out.code, 0);
    const list = JSON.parse(out.stdout) as {
      model: string;
      requests: number;
      first_seen: string;
      last_seen: string;
      priced_now: boolean;
      status: string;
    }[];
    const imaginary = list.find((u) => u.model === "gpt-9-imaginary")!;
    assert.equal(imaginary.requests, 2);
    assert.ok(imaginary.first_seen < imaginary.last_seen);
    assert.equal(imaginary.priced_now, false);
    assert.equal(imaginary.status, "no rate");
    // gemini-2.5-pro rows have no cost but the card prices the model now.
    const gemini = list.find((u) => u.model === "gemini-2.5-pro")!;
    assert.equal(gemini.requests, 2);
    assert.equal(gemini.priced_now, true);
    assert.equal(list.some((u) => u.model === "grok-3"), false);

    const table = await run("unknown");
    assert.match(table.stdout, /gpt-9-imaginary\s+openai\s+2\s/);
    assert.match(table.stdout, /rate known now: run pricing recost/);
  });
});

Deno.test("pricing recost prices rows without a cost in range, in one go, and reports the count", async () => {
  await withHome(async (home, run) => {
    seed(home);
    const out = await run("recost", "--json");
    assert.equal(out.code, 0);
    // Last 30 days, NULL cost only: imaginary ×2 (still unpriced) and gemini-new.
    assert.deepEqual(
      { ...JSON.parse(out.stdout), since: undefined },
      { since: undefined, all: false, examined: 3, changed: 1, unpriced: 2 },
    );
    const c = costs(home);
    // gemini-2.5-pro: 2,000 × 1.25 + 1,000 × 10 = 12,500 µ$ → 1,250 mc
    assert.deepEqual(c["gemini-new"], [1250, "bundled-2026-12-06"]);
    assert.deepEqual(c["gemini-old"], [null, null]);
    assert.deepEqual(c["sonnet-stale"], [999, "bundled-2020-01-01"]);
  });
});

Deno.test("pricing recost --all re-costs priced rows too but keeps costs the provider billed", async () => {
  await withHome(async (home, run) => {
    seed(home);
    const out = await run("recost", "--all", "--since", "90d");
    assert.equal(out.code, 0);
    assert.match(out.stdout, /5 examined, 3 changed, 2 still without a rate/);
    const c = costs(home);
    // claude-sonnet-4-5: 1,000 × 3 + 500 × 15 = 10,500 µ$ → 1,050 mc
    assert.deepEqual(c["sonnet-stale"], [1050, "bundled-2026-12-06"]);
    assert.deepEqual(c["gemini-old"], [1250, "bundled-2026-12-06"]);
    assert.deepEqual(c["grok-ticks"], [5, "xai:cost_in_usd_ticks"]);
  });
});

Deno.test("pricing import reads a LiteLLM file; the imported rate then prices unknown rows", async () => {
  await withHome(async (home, run) => {
    seed(home);
    const file = join(home, "prices.json");
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        "gpt-9-imaginary": {
          litellm_provider: "openai",
          input_cost_per_token: 1e-6,
          output_cost_per_token: 4e-6,
        },
      }),
    );
    const imported = await run("import", file);
    assert.equal(imported.code, 0);
    assert.match(imported.stdout, /Imported 1 rate rows for 1 models as 'litellm:prices.json'/);

    const listed = JSON.parse((await run("list", "--provider", "openai", "--json")).stdout);
    const model = listed.models.find((m: { model: string }) => m.model === "gpt-9-imaginary");
    assert.equal(model.source, "litellm:prices.json");
    assert.deepEqual(model.rows[0], {
      tier: "standard",
      min_prompt_tokens: 0,
      input: 1,
      output: 4,
      cache_read: null,
      cache_write_5m: null,
      cache_write_1h: null,
      input_audio: null,
      input_image: null,
      output_audio: null,
      output_image: null,
    });

    await run("recost");
    // 1,000 × 1 + 100 × 4 = 1,400 µ$ → 140 mc
    assert.deepEqual(costs(home)["imaginary-1"], [140, "litellm:prices.json"]);
    const unknown = JSON.parse((await run("unknown", "--json")).stdout) as { model: string }[];
    // The import priced every call without a cost, however old, not only the last 30 days'.
    assert.deepEqual(unknown, []);
    assert.match(imported.stdout, /Priced 4 stored calls that had no cost; 0 still have none\./);
    assert.deepEqual(costs(home)["gemini-old"], [1250, BUNDLED]);
  });
});

Deno.test("pricing import refuses a URL and says costing never goes online", async () => {
  await withHome(async (_home, run) => {
    await assert.rejects(
      () => run("import", "https://example.com/model_prices_and_context_window.json"),
      (e: unknown) =>
        e instanceof UsageError && /never touches the network/.test(e.message) && /curl/.test(e.hint!),
    );
  });
});

Deno.test("pricing list shows the card without creating a database", async () => {
  await withHome(async (home, run) => {
    const out = await run("list", "--provider", "anthropic");
    assert.equal(out.code, 0);
    assert.match(out.stdout, /claude-sonnet-4-5\s+anthropic\s+standard\s+>200k\s+\$6\.00\s+\$22\.50/);
    assert.doesNotMatch(out.stdout, /gpt-/);
    assert.match(out.stdout, /Web searches, billed apart from tokens, per 1,000: anthropic \$10\.00\.\n$/);
    const json = JSON.parse((await run("list", "--json")).stdout);
    assert.deepEqual(json.web_search_fees, { anthropic: 10, openai: 10 });
    await assert.rejects(() => Deno.stat(join(home, "db.sqlite")), Deno.errors.NotFound);
  });
});

Deno.test("pricing list applies [[pricing.override]] from config.toml", async () => {
  await withHome(async (home, run) => {
    await Deno.writeTextFile(
      join(home, "config.toml"),
      '[[pricing.override]]\nprovider = "openai"\nmodel = "gpt-4o"\ninput = 1.5\ninput_audio = 30\n',
    );
    const listed = JSON.parse((await run("list", "--provider", "openai", "--json")).stdout);
    const gpt4o = listed.models.find((m: { model: string }) => m.model === "gpt-4o");
    assert.equal(gpt4o.source, "config");
    assert.equal(gpt4o.rows[0].input, 1.5);
    assert.equal(gpt4o.rows[0].output, 10);
    assert.equal(gpt4o.rows[0].input_audio, 30);
    // The table shows an audio input column only because a listed model has an audio input rate.
    const table = (await run("list", "--provider", "openai")).stdout;
    assert.match(table, /AUDIO IN/);
    assert.match(table, /^gpt-4o\s+openai\s+standard\s+any\s+\$1\.50\s+\$10\.00\s+.*\$30\.00/m);
    // No model of the list has an audio output rate: no such column.
    assert.doesNotMatch(table, /AUDIO OUT/);
  });
});

Deno.test("pricing rejects unknown subcommands and flags that do not apply", async () => {
  await withHome(async (_home, run) => {
    await assert.rejects(
      () => run("lst"),
      (e: unknown) => e instanceof UsageError && /pricing list/.test(e.hint!),
    );
    await assert.rejects(() => run("unknown", "--all"), UsageError);
    await assert.rejects(() => run("recost", "--since", "yesterday"), UsageError);
  });
});

Deno.test("parseSince() reads spans and dates as report does", () => {
  const now = new Date("2026-11-25T12:00:00.000Z");
  // 30d is today and the 29 days before, from midnight.
  assert.equal(parseSince("30d", now, "UTC"), "2026-10-27T00:00:00.000Z");
  assert.equal(parseSince("24h", now, "UTC"), "2026-11-24T12:00:00.000Z");
  assert.equal(parseSince("1m", now, "UTC"), "2026-11-01T00:00:00.000Z");
  assert.equal(parseSince("2026-11-01", now, "UTC"), "2026-11-01T00:00:00.000Z");
  assert.equal(parseSince("2026-11-01", now, "Asia/Kolkata"), "2026-10-31T18:30:00.000Z");
  assert.throws(
    () => parseSince("2026-02-30", now, "UTC"),
    /pricing recost: --since expects .* got '2026-02-30'/,
  );
});

/** A genai-prices data file with one provider and one model priced in two dated sets. */
const GENAI_DOC = [{
  id: "openai",
  name: "OpenAI",
  models: [{
    id: "gpt-9-imaginary",
    match: { or: [{ equals: "gpt-9-imaginary" }, { starts_with: "gpt-9-imaginary-" }] },
    prices: [
      { prices: { input_mtok: 9, output_mtok: 9 } },
      {
        constraint: { type: "start_date", start_date: "2026-01-01" },
        prices: { input_mtok: 2, output_mtok: 8 },
      },
    ],
  }],
}];

Deno.test("pricing update fetches a genai-prices data file from a URL, stores it and prices unpriced calls", async () => {
  await withHome(async (home, run) => {
    seed(home);
    const ac = new AbortController();
    let served = 0;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} }, () => {
      served++;
      return Response.json(GENAI_DOC);
    });
    try {
      const url = `http://127.0.0.1:${server.addr.port}/v2/data.json`;
      const out = await run("update", url, "--json");
      assert.equal(out.code, 0);
      const summary = JSON.parse(out.stdout);
      assert.equal(summary.format, "genai-prices");
      assert.equal(summary.source, `genai-prices:127.0.0.1:${server.addr.port}/data.json`);
      assert.equal(summary.models, 1);
      assert.ok(summary.newly_priced >= 2);
      assert.equal(served, 1);
      // The dated set in force today: $2 in, $8 out. 1,000 × 2 + 100 × 8 = 2,800 µ$ → 280 mc.
      assert.deepEqual(costs(home)["imaginary-1"], [280, summary.source]);
    } finally {
      ac.abort();
      await server.finished;
    }
  });
});

Deno.test("pricing update reads a file too, and says clearly when a URL cannot be fetched", async () => {
  await withHome(async (home, run) => {
    const file = join(home, "data.json");
    await Deno.writeTextFile(file, JSON.stringify({ providers: GENAI_DOC }));
    const out = await run("update", file);
    assert.equal(out.code, 0);
    assert.match(out.stdout, /Updated 1 rate rows for 1 models as 'genai-prices:data\.json'/);
    await assert.rejects(
      () => run("update", "http://127.0.0.1:9/nothing.json"),
      (e: unknown) =>
        e instanceof MeterError && /cannot read http:\/\/127\.0\.0\.1:9\/nothing\.json/.test(e.message),
    );
    await Deno.writeTextFile(file, "[1, 2]");
    await assert.rejects(() => run("update", file), MeterError);
  });
});

Deno.test("pricing alone lists its subcommands and exits 2; with --help it exits 0", async () => {
  const { runCli } = await import("../helpers/cli.ts");
  const home = await Deno.makeTempDir({ prefix: "halton-pricing-" });
  try {
    const env = { HALTON_METER_HOME: home, HOME: home };
    const bare = await runCli(["pricing"], env);
    assert.equal(bare.code, 2);
    for (const sub of ["list", "unknown", "recost", "import", "update"]) {
      assert.match(bare.stdout, new RegExp(`\\n  ${sub} `));
    }
    const help = await runCli(["pricing", "--help"], env);
    assert.equal(help.code, 0);
    const subHelp = await runCli(["pricing", "update", "--help"], env);
    assert.equal(subHelp.code, 0);
    assert.match(subHelp.stdout, /Usage: halton-meter pricing update \[FILE\|URL\]/);
    const typo = await runCli(["pricing", "updte"], env);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /hint: Did you mean 'pricing update'\?/);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("pricing list --provider shows an extra host's provider from the data package", async () => {
  await withHome(async (_home, run) => {
    const listed = JSON.parse((await run("list", "--provider", "groq", "--json")).stdout);
    const llama = listed.models.find((m: { model: string }) => m.model === "llama-3.3-70b-versatile");
    assert.match(llama.source, /^genai-prices-/);
    assert.ok(llama.rows[0].input > 0 && llama.rows[0].output > 0);
    await assert.rejects(() => run("list", "--provider", "nobody-sells-this"), UsageError);
  });
});

Deno.test("pricing recost adds each web search's fee, and unknown names a provider whose fee is not known", async () => {
  await withHome(async (home, run) => {
    const db = openStore(join(home, "db.sqlite"));
    const writer = new RowWriter(db);
    writer.enqueue(row("searching-sonnet", 1, {
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      input_tokens: 1000,
      output_tokens: 100,
      web_search_requests: 3,
    }));
    // xAI bills searches too, but reports its own cost in ticks; without them the meter knows no xAI fee.
    writer.enqueue(row("searching-grok", 1, {
      provider: "xai",
      model: "grok-4-0709",
      input_tokens: 1000,
      output_tokens: 100,
      web_search_requests: 1,
    }));
    writer.close();
    db.close();
    const out = await run("recost", "--json");
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual({ ...JSON.parse(out.stdout), since: undefined }, {
      since: undefined,
      all: false,
      examined: 2,
      changed: 1,
      unpriced: 1,
    });
    // 1,000 × $3 + 100 × $15 per million = 0.45 cents, and three searches at $10 per 1,000.
    assert.deepEqual(costs(home)["searching-sonnet"], [450 + 3 * 1000, BUNDLED]);
    const unknown = JSON.parse((await run("unknown", "--json")).stdout) as {
      model: string;
      web_searches: number;
      status: string;
      priced_now: boolean;
    }[];
    assert.deepEqual(
      unknown.map((u) => [u.model, u.web_searches, u.status, u.priced_now]),
      [["grok-4-0709", 1, "no web search fee", false]],
    );
  });
});
