/**
 * The limit on open files the edge and daemon run with, as real processes: each says in its log what it runs
 * with, and that is what the kernel holds it to. (From source `deno` has raised the soft limit already; the
 * raise itself, which a compiled binary needs, is tested in tests/core/open_files_test.ts.)
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { COMPLETION } from "../../testkit/fake_provider.ts";
import { waitFor } from "../../testkit/processes.ts";
import { withMeter } from "../../testkit/world.ts";

/** The `limit` of the last `event` in `process`'s log, once there is one. */
async function loggedLimit(dir: string, process: string, event: string): Promise<number> {
  let limit: number | undefined;
  await waitFor(`${event} in the log`, () => {
    const lines = Deno.readTextFileSync(join(dir, "logs", `${process}.jsonl`)).split("\n").filter(Boolean);
    const entry = lines.map((l) => JSON.parse(l)).findLast((e) => e.event === event);
    limit = entry?.limit;
    return Promise.resolve(limit !== undefined);
  }, 5000);
  return limit!;
}

/** The soft and hard limits on open files the kernel holds process `pid` to. */
function kernelLimits(pid: number): { soft: number; hard: number } {
  const line = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(
    Deno.readTextFileSync(`/proc/${pid}/limits`),
  )!;
  const count = (s: string) => s === "unlimited" ? Infinity : Number(s);
  return { soft: count(line[1]), hard: count(line[2]) };
}

Deno.test({
  name:
    "the daemon as it starts, and the edge at its first metered call, log the open-files limit they run with",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await withMeter({ prefix: "hm-files-", hosts: ["api.openai.com"] }, async (w) => {
      const ca = await Deno.readTextFile(w.caFile);
      const call = async () => {
        const client = Deno.createHttpClient({
          proxy: { url: `http://127.0.0.1:${w.ports.edge}` },
          caCerts: [ca],
        });
        try {
          const res = await fetch("https://api.openai.com/v1/chat/completions", {
            client,
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ model: "gpt-4o-mini", messages: [] }),
          });
          assert.deepEqual(await res.json(), COMPLETION);
        } finally {
          client.close();
        }
      };
      // An edge that has not yet seen the daemon healthy tunnels a call past it, passing nothing: call until one
      // is metered.
      await waitFor("a metered call", async () => {
        await call();
        return w.rows().length > 0;
      }, 10_000);
      for (const [process, child] of [["daemon", w.daemon], ["edge", w.edge]] as const) {
        const limit = await loggedLimit(w.dir, process, `${process}.open_files`);
        const kernel = kernelLimits(child.pid);
        assert.equal(limit, kernel.soft, `the ${process} logs the limit the kernel holds it to`);
        assert.equal(kernel.soft, Math.min(kernel.hard, 2 ** 20), `the ${process} runs with all it may have`);
      }
    });
  },
});
