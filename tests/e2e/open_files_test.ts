/**
 * The limit on open files the edge and daemon run with, as real processes: each says in its log what it runs
 * with, and that is what the kernel holds it to. (From source `deno` has raised the soft limit already; the
 * raise itself, which a compiled binary needs, is tested in tests/core/open_files_test.ts.)
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { waitFor } from "../../testkit/processes.ts";
import { withMeter } from "../../testkit/world.ts";

/** The `open_files` of the last `event` in `process`'s log, once there is one. */
async function loggedLimit(dir: string, process: string, event: string): Promise<number> {
  let limit: number | undefined;
  await waitFor(`${event} in the log`, () => {
    const lines = Deno.readTextFileSync(join(dir, "logs", `${process}.jsonl`)).split("\n").filter(Boolean);
    const entry = lines.map((l) => JSON.parse(l)).findLast((e) => e.event === event);
    limit = entry?.open_files;
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
  name: "the daemon and the edge say, as they start, the open-files limit they run with: all they may have",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await withMeter({ prefix: "hm-files-", hosts: ["api.openai.com"] }, async (w) => {
      for (const [process, child] of [["daemon", w.daemon], ["edge", w.edge]] as const) {
        const limit = await loggedLimit(w.dir, process, `${process}.startup.ready`);
        const kernel = kernelLimits(child.pid);
        assert.equal(limit, kernel.soft, `the ${process} logs the limit the kernel holds it to`);
        assert.equal(kernel.soft, Math.min(kernel.hard, 2 ** 20), `the ${process} runs with all it may have`);
      }
    });
  },
});
