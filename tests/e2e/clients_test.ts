/**
 * Real clients through the meter, the ways the README tells users to point them at it: Claude Code and Codex
 * CLI and Gemini CLI from the npm registry (pinned, cached between runs), against the local
 * fake provider speaking their protocols. Every call that reaches the provider must have exactly one row, with
 * the model, every token column, the cost worked out by hand from the public rates, the project and the layer.
 * The fake ends each stream a moment after its last event, so a client that hangs up on reading that event
 * (Codex does) is part of every run.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { installedClients, installedGeminiCli, installedSdks } from "../helpers/npm_clients.ts";
import { accepts, daemonHealthy, meterCommand, spawnMeter, stop, waitFor } from "../../testkit/processes.ts";
import { type FakeWorld, fakeWorld } from "../../testkit/world.ts";

const clients = await installedClients();
if (!clients.ok) console.warn(`clients_test: Claude Code and Codex tests skip: ${clients.reason}`);
const [sdks, geminiCli] = await Promise.all([installedSdks(), installedGeminiCli()]);
const gemini = sdks.ok && geminiCli.ok ? { node: sdks.node, script: geminiCli.script } : undefined;
if (!gemini) {
  console.warn(
    `clients_test: Gemini CLI tests skip: ${[sdks, geminiCli].map((r) => r.ok ? "" : r.reason).join(" ")}`,
  );
}

/** USD per million tokens, from the providers' pricing pages (the card's sources), for the models used here. */
const RATES: Record<string, { input: number; output: number; read?: number; w5m?: number; w1h?: number }> = {
  "claude-sonnet-5-5": { input: 2, output: 10, read: 0.10, w5m: 2.50, w1h: 4 },
  "gpt-5.4": { input: 2.50, output: 15, read: 0.25 },
  // Its transcript has no cached tokens.
  "gemini-2.5-flash": { input: 0.30, output: 2.50 },
};

type Row = Record<string, unknown>;

/** Σ tokens × rate in millicents, rounded half up once, as the README states. */
function costByHand(row: Row, rates: typeof RATES[string]): number {
  const usdTokensPerMillion = Number(row.input_tokens) * rates.input +
    Number(row.output_tokens) * rates.output +
    Number(row.cache_read_tokens) * (rates.read ?? 0) + Number(row.cache_write_5m_tokens) * (rates.w5m ?? 0) +
    Number(row.cache_write_1h_tokens) * (rates.w1h ?? 0);
  // 1 USD = 100,000 millicents; per million tokens: × 0.1.
  return Math.floor(usdTokensPerMillion / 10 + 0.5 + 1e-9);
}

/** The token columns of a row, in one comparable object. */
function tokens(row: Row) {
  return {
    input: row.input_tokens,
    output: row.output_tokens,
    thinking: row.thinking_tokens,
    cache_read: row.cache_read_tokens,
    cache_write_5m: row.cache_write_5m_tokens,
    cache_write_1h: row.cache_write_1h_tokens,
  };
}

/** A fake world with `up` running (edge and daemon in one process), as a user trying the meter has. */
async function withUp(hosts: string[], fn: (w: FakeWorld) => Promise<void>): Promise<void> {
  const w = await fakeWorld({ prefix: "hm-clients-", hosts });
  const up = spawnMeter(w.dir, "up");
  try {
    await waitFor("a healthy daemon", () => daemonHealthy(w.ports.api), 30_000);
    await waitFor("the edge", () => accepts(w.ports.edge), 30_000);
    await fn(w);
  } finally {
    await stop(up);
    await w.close();
  }
}

/** Runs `command` and returns its output; after `limitMs` it is stopped (SIGTERM, which `run` passes on). */
async function outputWithin(command: Deno.Command, limitMs: number) {
  const child = command.spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGTERM");
    } catch { /* exited */ }
  }, limitMs);
  try {
    const out = await child.output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a client the way a user runs it in `cwd` after `eval "$(halton-meter env)"`: only `env` and PATH, the
 * world's home as HOME; within two minutes.
 */
async function clientIn(
  w: FakeWorld,
  cwd: string,
  program: string,
  args: readonly string[],
  env: Record<string, string>,
) {
  return await outputWithin(
    new Deno.Command(program, {
      args: [...args],
      cwd,
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: w.dir, ...env },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }),
    120_000,
  );
}

/** `halton-meter env --json` in the world's home: the variables a user evals after `up`. */
async function envAfterUp(w: FakeWorld): Promise<Record<string, string>> {
  const out = await outputWithin(
    meterCommand(w.dir, ["env", "--json"], { stdout: "piped", stderr: "piped" }),
    60_000,
  );
  assert.equal(out.code, 0, out.stderr);
  const vars = JSON.parse(out.stdout) as Record<string, string>;
  for (const v of ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"]) {
    assert.ok(vars[v] && Deno.statSync(vars[v]).isFile, `${v} names a file that exists: ${vars[v]}`);
  }
  assert.equal(vars.NODE_USE_ENV_PROXY, "1");
  return vars;
}

/** A git repository `name` in the world's home, its folder returned. */
async function gitRepo(w: FakeWorld, name: string): Promise<string> {
  const repo = join(w.dir, "work", name);
  await Deno.mkdir(join(repo, ".git"), { recursive: true });
  await Deno.writeTextFile(join(repo, ".git", "HEAD"), "ref: refs/heads/main\n");
  return repo;
}

/** The calls the fake answered on `path` with a JSON body naming a model: each must have one row. */
function modelCalls(w: FakeWorld, path: string): string[] {
  return w.fake.requests.filter((r) => r.method === "POST" && r.path.split("?")[0] === path).map((r) =>
    String(JSON.parse(new TextDecoder().decode(r.body)).model)
  );
}

/** The rows on `path` once `count` of them are stored (rows are flushed in batches, a few ms apart). */
async function rowsOn(w: FakeWorld, path: string, count: number): Promise<Row[]> {
  const on = () => {
    const db = new DatabaseSync(join(w.dir, "db.sqlite"), { readOnly: true });
    try {
      return db.prepare(
        "SELECT r.*, p.slug AS project FROM requests r JOIN projects p ON p.id = r.project_id " +
          "WHERE r.path = ? ORDER BY r.requested_at",
      ).all(path) as Row[];
    } finally {
      db.close();
    }
  };
  await waitFor(`${count} row(s) on ${path}`, () => Promise.resolve(on().length >= count), 10_000);
  return on();
}

/** What a client's environment needs besides the meter's variables: no telemetry, no updates, a fake key. */
const CLAUDE_ENV = {
  ANTHROPIC_API_KEY: "sk-ant-api03-test-key",
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  DISABLE_AUTOUPDATER: "1",
};
const CLAUDE_ARGS = ["-p", "Say hi", "--model", "claude-sonnet-5-5"];

const CODEX_ENV = { OPENAI_API_KEY: "sk-test-key" };
const CODEX_ARGS = ["exec", "--skip-git-repo-check", "-m", "gpt-5.4", "Say hi"];

/** Gemini CLI headless, trusting its folder as a CI job does, with an API key. */
const GEMINI_ENV = { GEMINI_API_KEY: "test-key", GEMINI_CLI_TRUST_WORKSPACE: "true" };
const GEMINI_ARGS = ["-p", "Say hi", "-m", "gemini-2.5-flash"];
const GEMINI_PATH = "/v1beta/models/gemini-2.5-flash:streamGenerateContent";

/** Asserts the Gemini rows: output is candidates + thoughts, priced at gemini-2.5-flash's rates. */
function assertGeminiRows(rows: Row[], models: number, project: string, layer: string): void {
  assert.equal(rows.length, models, "one row per call");
  for (const row of rows) {
    assert.equal(row.model, "gemini-2.5-flash");
    assert.deepEqual(tokens(row), {
      input: 9,
      output: 112,
      thinking: 100,
      cache_read: 0,
      cache_write_5m: 0,
      cache_write_1h: 0,
    });
    // 9×0.30 + 112×2.50 = 282.7 USD·tokens/M → 28 millicents.
    assert.equal(row.cost_usd_minor_units, costByHand(row, RATES["gemini-2.5-flash"]));
    assert.equal(row.cost_usd_minor_units, 28);
    assert.deepEqual(
      [row.provider, row.project, row.attribution_layer, row.status, row.tokens_complete, row.streamed],
      ["google", project, layer, "success", 1, 1],
    );
  }
}

/** Asserts the Messages rows Claude Code left: one per call, every column as the transcript and rates say. */
function assertClaudeRows(rows: Row[], models: string[], project: string, layer: string): void {
  assert.deepEqual(rows.map((r) => r.model).sort(), [...models].sort(), "one row per call, each its model");
  for (const row of rows) {
    const rates = RATES[String(row.model)];
    assert.ok(rates, `a rate for ${row.model} in this test`);
    assert.deepEqual(tokens(row), {
      input: 1234,
      output: 56,
      thinking: 0,
      cache_read: 20000,
      cache_write_5m: 3000,
      cache_write_1h: 1000,
    });
    // 1234×2 + 56×10 + 20000×0.10 + 3000×2.50 + 1000×4 = 16,528 USD·tokens/M = 1,652.8 → 1,653 millicents.
    assert.equal(row.cost_usd_minor_units, costByHand(row, rates));
    assert.equal(row.cost_usd_minor_units, 1653);
    assert.deepEqual(
      [row.provider, row.project, row.attribution_layer, row.status, row.tokens_complete, row.billing],
      ["anthropic", project, layer, "success", 1, "api"],
    );
    assert.equal(row.streamed, 1);
  }
}

/** Asserts the Responses rows Codex left: whole and successful although Codex hangs up at the last event. */
function assertCodexRows(rows: Row[], models: string[], project: string, layer: string): void {
  assert.deepEqual(rows.map((r) => r.model), models, "one row per call, each its model");
  for (const row of rows) {
    assert.deepEqual(tokens(row), {
      input: 1172,
      output: 321,
      thinking: 192,
      cache_read: 8704,
      cache_write_5m: 0,
      cache_write_1h: 0,
    });
    // 1172×2.50 + 321×15 + 8704×0.25 = 9,921 USD·tokens/M = 992.1 → 992 millicents.
    assert.equal(row.cost_usd_minor_units, costByHand(row, RATES["gpt-5.4"]));
    assert.equal(row.cost_usd_minor_units, 992);
    assert.deepEqual(
      [row.provider, row.project, row.attribution_layer, row.status, row.error_class, row.tokens_complete],
      ["openai", project, layer, "success", null, 1],
      `Codex hanging up after response.completed still leaves a whole, successful row (process ${row.client_process})`,
    );
  }
}

Deno.test({
  name: "Claude Code through `run --project demo`: each call one row, every column exact",
  ignore: !clients.ok,
  async fn() {
    if (!clients.ok) return;
    await withUp(["api.anthropic.com"], async (w) => {
      const out = await outputWithin(
        meterCommand(w.dir, ["run", "--project", "demo", "--", clients.claude, ...CLAUDE_ARGS], {
          env: CLAUDE_ENV,
          stdout: "piped",
          stderr: "piped",
        }),
        120_000,
      );
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /Metered and ready\./, "Claude Code got the fake's answer through the meter");
      const models = modelCalls(w, "/v1/messages");
      assert.ok(models.length >= 1, "Claude Code reached the provider");
      assertClaudeRows(await rowsOn(w, "/v1/messages", models.length), models, "demo", "explicit");
    });
  },
});

Deno.test({
  name: "Claude Code with `env` after `up`, in a git repository: rows tagged with the repository",
  ignore: !clients.ok,
  async fn() {
    if (!clients.ok) return;
    await withUp(["api.anthropic.com"], async (w) => {
      const vars = await envAfterUp(w);
      const repo = await gitRepo(w, "acme-notes");
      const out = await clientIn(w, repo, clients.claude, CLAUDE_ARGS, { ...vars, ...CLAUDE_ENV });
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /Metered and ready\./);
      const models = modelCalls(w, "/v1/messages");
      assert.ok(models.length >= 1, "Claude Code reached the provider");
      assertClaudeRows(await rowsOn(w, "/v1/messages", models.length), models, "acme-notes", "git");
    });
  },
});

Deno.test({
  name:
    "Codex CLI through `run --project demo`: each Responses call one whole row, though Codex hangs up early",
  ignore: !clients.ok,
  async fn() {
    if (!clients.ok) return;
    await withUp(["api.openai.com", "chatgpt.com"], async (w) => {
      const out = await outputWithin(
        meterCommand(w.dir, ["run", "--project", "demo", "--", clients.codex, ...CODEX_ARGS], {
          env: CODEX_ENV,
          stdout: "piped",
          stderr: "piped",
        }),
        120_000,
      );
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /Hi! Ready\./, "Codex got the fake's answer through the meter");
      const models = modelCalls(w, "/v1/responses");
      assert.ok(models.length >= 1, "Codex reached the provider");
      assertCodexRows(await rowsOn(w, "/v1/responses", models.length), models, "demo", "explicit");
    });
  },
});

Deno.test({
  name: "Codex CLI with `env` after `up`, in a git repository: TLS trusted, rows tagged with the repository",
  ignore: !clients.ok,
  async fn() {
    if (!clients.ok) return;
    await withUp(["api.openai.com", "chatgpt.com"], async (w) => {
      const vars = await envAfterUp(w);
      const repo = await gitRepo(w, "acme-agent");
      const out = await clientIn(w, repo, clients.codex, CODEX_ARGS, { ...vars, ...CODEX_ENV });
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /Hi! Ready\./);
      const models = modelCalls(w, "/v1/responses");
      assert.ok(models.length >= 1, "Codex reached the provider");
      assertCodexRows(await rowsOn(w, "/v1/responses", models.length), models, "acme-agent", "git");
    });
  },
});

Deno.test({
  name: "Gemini CLI through `run --project demo`: Node's fetch follows the proxy, one exact row per call",
  ignore: !gemini,
  async fn() {
    if (!gemini) return;
    await withUp(["generativelanguage.googleapis.com"], async (w) => {
      const out = await outputWithin(
        meterCommand(w.dir, ["run", "--project", "demo", "--", gemini.node, gemini.script, ...GEMINI_ARGS], {
          env: GEMINI_ENV,
          stdout: "piped",
          stderr: "piped",
        }),
        120_000,
      );
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /The quick brown fox jumps over the lazy dog\./);
      const calls = w.fake.requests.filter((r) => r.path.split("?")[0] === GEMINI_PATH).length;
      assert.ok(calls >= 1, "Gemini CLI reached the provider");
      assertGeminiRows(await rowsOn(w, GEMINI_PATH, calls), calls, "demo", "explicit");
    });
  },
});

Deno.test({
  name: "Gemini CLI with `env` after `up`, in a git repository: rows tagged with the repository",
  ignore: !gemini,
  async fn() {
    if (!gemini) return;
    await withUp(["generativelanguage.googleapis.com"], async (w) => {
      const vars = await envAfterUp(w);
      const repo = await gitRepo(w, "acme-gemini");
      const out = await outputWithin(
        new Deno.Command(gemini.node, {
          args: [gemini.script, ...GEMINI_ARGS],
          cwd: repo,
          env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: w.dir, ...vars, ...GEMINI_ENV },
          clearEnv: true,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }),
        120_000,
      );
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /The quick brown fox jumps over the lazy dog\./);
      const calls = w.fake.requests.filter((r) => r.path.split("?")[0] === GEMINI_PATH).length;
      assert.ok(calls >= 1, "Gemini CLI reached the provider");
      assertGeminiRows(await rowsOn(w, GEMINI_PATH, calls), calls, "acme-gemini", "git");
    });
  },
});
