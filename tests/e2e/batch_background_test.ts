/**
 * Calls billed apart from their request, through the meter end to end: real `edge` and `daemon` processes, the
 * fake provider serving a Message Batch's results, a Batch API output file and a response run in the
 * background, each fetched with curl as a script would, twice.
 */
import assert from "node:assert/strict";
import { waitFor } from "../../testkit/processes.ts";
import { type RunningWorld, withMeter } from "../../testkit/world.ts";
import card from "../../pricing/card.json" with { type: "json" };

const hasCurl = await new Deno.Command("curl", { args: ["--version"], stdout: "null" }).output().then(
  (r) => r.success,
  () => false,
);

async function download(w: RunningWorld, url: string, post?: unknown): Promise<string> {
  const body = post === undefined ? [] : ["-H", "content-type: application/json", "-d", JSON.stringify(post)];
  const out = await new Deno.Command("curl", {
    args: [
      "-sS",
      "--max-time",
      "10",
      "-x",
      `http://127.0.0.1:${w.ports.edge}`,
      "--cacert",
      w.caFile,
      ...body,
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test({
  name:
    "batch results downloaded twice give one row per billed request, at the batch tier, and other files none",
  ignore: !hasCurl,
  async fn() {
    await withMeter({ prefix: "hm-batch-", hosts: ["api.anthropic.com", "api.openai.com"] }, async (w) => {
      const anthropic =
        "https://api.anthropic.com/v1/messages/batches/msgbatch_01X/results?fixture=anthropic_batch_results.body";
      const openai = "https://api.openai.com/v1/files/file-out/content?fixture=openai_batch_output.body";
      // A file that is not a batch's output (here a chat completion's JSON) is passed on and never metered.
      const other = "https://api.openai.com/v1/files/file-other/content?fixture=openai_chat.body";
      for (let round = 0; round < 2; round++) {
        assert.match(await download(w, anthropic), /invoice-0004/);
        assert.match(await download(w, openai), /batch_req_6a1f0003/);
        assert.match(await download(w, other), /chat\.completion/);
        await waitFor("the rows", () => Promise.resolve(w.rows().length >= 4), 5000);
      }
      // Give a wrongly doubled second round the time to land before counting.
      await new Promise((r) => setTimeout(r, 500));
      const rows = w.rows().sort((a, b) => String(a.id).localeCompare(String(b.id)));
      assert.deepEqual(
        rows.map((r) => [r.id, r.provider, r.model, r.cost_usd_minor_units, r.rates_source, r.status]),
        [
          // Half of claude-sonnet-4-5's rates: (1800×3 + 4000×0.30 + 120×15) / 20 and
          // (2200×3 + 4000×3.75 + 80×15) / 20 millicents.
          ["anthropic-batch-msgbatch_01X/invoice-0001", "anthropic", "claude-sonnet-4-5-20250929", 420],
          ["anthropic-batch-msgbatch_01X/invoice-0003", "anthropic", "claude-sonnet-4-5-20250929", 1140],
          // Half of gpt-4.1-mini's and gpt-5-mini's: (950×0.40 + 3×1.60) / 20 and (176×0.25 + 1024×0.025 +
          // 300×2) / 20.
          ["openai-batch-batch_req_6a1f0001", "openai", "gpt-4.1-mini-2025-04-14", 19],
          ["openai-batch-batch_req_6a1f0003", "openai", "gpt-5-mini-2025-08-07", 33],
        ].map((r) => [...r, `bundled-${card.date}`, "success"]),
      );
      for (const r of rows) {
        assert.equal(r.http_status, 200);
        assert.equal(r.tokens_complete, 1);
        assert.equal(r.latency_ms, null);
      }
    });
  },
});

Deno.test({
  name: "a response run in the background: no row while queued, one row once retrieved ended, however often",
  ignore: !hasCurl,
  async fn() {
    await withMeter({ prefix: "hm-background-", hosts: ["api.openai.com"] }, async (w) => {
      const ask = { model: "gpt-5", background: true, input: "survey the field" };
      assert.match(
        await download(w, "https://api.openai.com/v1/responses?fixture=openai_background_queued.body", ask),
        /"queued"/,
      );
      const done = "https://api.openai.com/v1/responses/resp_bg1?fixture=openai_background_done.body";
      for (let poll = 0; poll < 3; poll++) assert.match(await download(w, done), /"completed"/);
      await waitFor("the row", () => Promise.resolve(w.rows().length >= 1), 5000);
      await new Promise((r) => setTimeout(r, 500));
      // gpt-5: (5000×1.25 + 9000×10) / 10 millicents, once.
      assert.deepEqual(
        w.rows().map((r) => [r.id, r.model, r.input_tokens, r.output_tokens, r.cost_usd_minor_units, r.path]),
        [["openai-response-resp_bg1", "gpt-5-2025-08-07", 5000, 9000, 9625, "/v1/responses/resp_bg1"]],
      );
    });
  },
});
