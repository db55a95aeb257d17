/** Someone switching from the original Halton Meter keeps their config: its port names are honoured. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { daemonHealthy, freePorts, spawnMeter, stopAll, waitFor } from "../../testkit/processes.ts";
import { listening } from "../../setup/probe.ts";

Deno.test("an original-style config with [daemon] edge_port, internal_port and api_port runs on those ports", async () => {
  const dir = await Deno.makeTempDir({ prefix: "h11-original-" });
  const [edge, intercept, api] = freePorts(3);
  await Deno.writeTextFile(
    join(dir, "config.toml"),
    `[daemon]\nedge_port = ${edge}\ninternal_port = ${intercept}\napi_port = ${api}\n` +
      `log_level = "INFO"\n\n[dashboard]\nenabled = true\n`,
  );
  const daemon = spawnMeter(dir, "daemon");
  const edgeProcess = spawnMeter(dir, "edge", { stderr: "piped" });
  const text = edgeProcess.stderr.pipeThrough(new TextDecoderStream());
  let log = "";
  const reading = (async () => {
    for await (const chunk of text) log += chunk;
  })();
  try {
    await waitFor("the daemon on the original's api_port", () => daemonHealthy(api), 30_000);
    await waitFor("the edge on the original's edge_port", () => listening(edge), 30_000);
    assert.equal(await listening(intercept), true, "the daemon intercepts on internal_port");
    await waitFor("the warning", () => Promise.resolve(log.includes("edge_port")), 5_000);
    assert.match(log, /daemon\.edge_port \(the original Halton Meter's name\) is used as edge\.port/);
  } finally {
    await stopAll([edgeProcess, daemon]);
    await reading;
    await Deno.remove(dir, { recursive: true });
  }
});
