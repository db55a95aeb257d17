/**
 * The official Node SDKs (openai, @anthropic-ai/sdk, @google/genai; pinned, installed from the npm registry
 * into the test cache with a Node that honours `NODE_USE_ENV_PROXY`) through `halton-meter run --project`:
 * their `fetch` goes through the meter only because `run` sets that variable, and each streamed call leaves
 * one row with every column exact.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { installedSdks } from "../helpers/npm_clients.ts";
import { accepts, daemonHealthy, meterCommand, spawnMeter, stop, waitFor } from "../../testkit/processes.ts";
import { type FakeWorld, fakeWorld } from "../../testkit/world.ts";

const sdks = await installedSdks();
if (!sdks.ok) console.warn(`sdks_test: the Node SDK tests skip: ${sdks.reason}`);

const SCRIPT = fileURLToPath(new URL("./clients/sdk_call.mjs", import.meta.url));

type Row = Record<string, unknown>;

interface Case {
  sdk: string;
  host: string;
  path: string;
  answer: RegExp;
  /** model, input, cache read, 5 m and 1 h cache writes, output, thinking. */
  tokens: [string, number, number, number, number, number, number];
  /** Worked out by hand from the provider's rates. */
  cost: number;
}

const CASES: Case[] = [
  {
    sdk: "openai",
    host: "api.openai.com",
    path: "/v1/responses",
    answer: /Hi! Ready\./,
    tokens: ["gpt-5.4", 1172, 8704, 0, 0, 321, 192],
    // 1172×2.50 + 8704×0.25 + 321×15 = 9,921 USD·tokens/M → 992 millicents.
    cost: 992,
  },
  {
    sdk: "anthropic",
    host: "api.anthropic.com",
    path: "/v1/messages",
    answer: /Metered and ready\./,
    tokens: ["claude-sonnet-5-5", 1234, 20000, 3000, 1000, 56, 0],
    // 1234×2 + 20000×0.10 + 3000×2.50 + 1000×4 + 56×10 = 16,528 USD·tokens/M → 1,653 millicents.
    cost: 1653,
  },
  {
    sdk: "google",
    host: "generativelanguage.googleapis.com",
    path: "/v1/models/gemini-2.5-flash:streamGenerateContent",
    answer: /The quick brown fox jumps over the lazy dog\./,
    // Output is candidates (12) + thoughts (100).
    tokens: ["gemini-2.5-flash", 9, 0, 0, 0, 112, 100],
    // 9×0.30 + 112×2.50 = 282.7 USD·tokens/M → 28 millicents.
    cost: 28,
  },
];

async function rowsOf(w: FakeWorld, path: string): Promise<Row[]> {
  const read = () => {
    const db = new DatabaseSync(join(w.dir, "db.sqlite"), { readOnly: true });
    try {
      return db.prepare(
        "SELECT r.*, p.slug AS project FROM requests r JOIN projects p ON p.id = r.project_id WHERE r.path = ?",
      ).all(path) as Row[];
    } finally {
      db.close();
    }
  };
  try {
    await waitFor(`a row on ${path}`, () => Promise.resolve(read().length > 0), 10_000);
  } catch (e) {
    const all = new DatabaseSync(join(w.dir, "db.sqlite"), { readOnly: true });
    const paths = all.prepare("SELECT host, path FROM requests").all();
    all.close();
    throw new Error(`${(e as Error).message}; rows: ${JSON.stringify(paths)}`);
  }
  return read();
}

/**
 * Runs `sdk_call.mjs <sdk>` under `halton-meter run --project sdk-app` against a meter (`up`) in front of the
 * fake `host`; checks the SDK succeeded with `answer`, then hands the world to `check` before tearing it down.
 */
async function withSdkRun(
  host: string,
  sdk: string,
  answer: RegExp,
  check: (w: FakeWorld) => Promise<void>,
): Promise<void> {
  if (!sdks.ok) return;
  const w = await fakeWorld({ prefix: "hm-sdk-", hosts: [host] });
  const up = spawnMeter(w.dir, "up");
  try {
    await waitFor("a healthy daemon", () => daemonHealthy(w.ports.api), 30_000);
    await waitFor("the edge", () => accepts(w.ports.edge), 30_000);
    const out = await meterCommand(
      w.dir,
      ["run", "--project", "sdk-app", "--", sdks.node, SCRIPT, sdks.dir, sdk],
      { stdout: "piped", stderr: "piped" },
    ).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(new TextDecoder().decode(out.stdout), answer, "the SDK got the fake's answer");
    await check(w);
  } finally {
    await stop(up);
    await w.close();
  }
}

for (const c of CASES) {
  Deno.test({
    name: `${c.sdk} Node SDK through \`run --project\`: its fetch follows the proxy, one exact row`,
    ignore: !sdks.ok,
    fn: () =>
      withSdkRun(c.host, c.sdk, c.answer, async (w) => {
        const rows = await rowsOf(w, c.path);
        assert.equal(rows.length, 1, "one call, one row");
        const [row] = rows;
        assert.deepEqual(
          [
            row.model,
            row.input_tokens,
            row.cache_read_tokens,
            row.cache_write_5m_tokens,
            row.cache_write_1h_tokens,
            row.output_tokens,
            row.thinking_tokens,
          ],
          c.tokens,
        );
        assert.equal(row.cost_usd_minor_units, c.cost);
        assert.deepEqual(
          [row.project, row.attribution_layer, row.status, row.tokens_complete, row.streamed, row.billing],
          ["sdk-app", "explicit", "success", 1, 1, "api"],
        );
      }),
  });
}

interface DeferredCase {
  sdk: string;
  host: string;
  answer: RegExp;
  /** Per row, sorted by id: id, model, input, output, cost worked out by hand from the provider's rates. */
  rows: [string, string, number, number, number][];
}

const DEFERRED: DeferredCase[] = [
  {
    sdk: "anthropic-batch",
    host: "api.anthropic.com",
    answer: /^invoice-0001 invoice-0002 invoice-0003 invoice-0004$/m,
    // Half of claude-sonnet-4-5's rates: (1800×3 + 4000×0.30 + 120×15) / 20, (2200×3 + 4000×3.75 + 80×15) / 20.
    rows: [
      ["anthropic-batch-msgbatch_01X/invoice-0001", "claude-sonnet-4-5-20250929", 1800, 120, 420],
      ["anthropic-batch-msgbatch_01X/invoice-0003", "claude-sonnet-4-5-20250929", 2200, 80, 1140],
    ],
  },
  {
    sdk: "openai-batch",
    host: "api.openai.com",
    answer: /^ticket-1 ticket-2 ticket-3$/m,
    // Half of gpt-4.1-mini's and gpt-5-mini's: (950×0.40 + 3×1.60) / 20, (176×0.25 + 1024×0.025 + 300×2) / 20.
    rows: [
      ["openai-batch-batch_req_6a1f0001", "gpt-4.1-mini-2025-04-14", 950, 3, 19],
      ["openai-batch-batch_req_6a1f0003", "gpt-5-mini-2025-08-07", 176, 300, 33],
    ],
  },
  {
    sdk: "openai-background",
    host: "api.openai.com",
    answer: /^completed Survey done\.$/m,
    // gpt-5: (5000×1.25 + 9000×10) / 10.
    rows: [["openai-response-resp_bg1", "gpt-5-2025-08-07", 5000, 9000, 9625]],
  },
];

for (const c of DEFERRED) {
  Deno.test({
    name: `${c.sdk} with its Node SDK through \`run --project\`: one row per billed call, none for the rest`,
    ignore: !sdks.ok,
    fn: () =>
      withSdkRun(c.host, c.sdk, c.answer, async (w) => {
        const read = () => {
          const db = new DatabaseSync(join(w.dir, "db.sqlite"), { readOnly: true });
          try {
            return db.prepare(
              `SELECT r.id, r.model, r.input_tokens, r.output_tokens, r.cost_usd_minor_units, p.slug AS project
                 FROM requests r JOIN projects p ON p.id = r.project_id ORDER BY r.id`,
            ).all() as Row[];
          } finally {
            db.close();
          }
        };
        await waitFor("the rows", () => Promise.resolve(read().length >= c.rows.length), 10_000);
        // The batch's own record, the queued answer and the polls write nothing; give a wrong row time to land.
        await new Promise((r) => setTimeout(r, 500));
        const rows = read();
        assert.deepEqual(
          rows.map((r) => [r.id, r.model, r.input_tokens, r.output_tokens, r.cost_usd_minor_units]),
          c.rows,
        );
        assert.ok(rows.every((r) => r.project === "sdk-app"), "attributed to the downloading process");
      }),
  });
}
