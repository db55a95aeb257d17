/**
 * An upgrade and a rollback as a user does them, under load: `init` from a second copy of the source with a
 * newer version string (another release), then `init` from the first again. The built-in supervisor runs the
 * services; clients keep calling through the edge all along.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MAIN, runCli } from "../helpers/cli.ts";
import { livePid } from "../../setup/pids.ts";
import type { StatusReport } from "../../setup/status.ts";
import { supervisedHome } from "../helpers/supervised_home.ts";
import { waitFor } from "../../testkit/processes.ts";
import { describeFailures, rowsSeen, startTraffic } from "../helpers/traffic.ts";
import { VERSION } from "../../core/version.ts";

const HOST = "api.openai.com";
const NEXT = "9.9.9";

/** What a release is made of: the program, without tests, scripts or docs. */
const RELEASE_PARTS = [
  "main.ts",
  "deno.json",
  "deno.lock",
  "cli",
  "core",
  "daemon",
  "edge",
  "migrations",
  "platform",
  "pricing",
  "reports",
  "setup",
  "store",
  "tls",
];

async function copyTree(from: string, to: string): Promise<void> {
  const info = await Deno.stat(from);
  if (info.isFile) return await Deno.copyFile(from, to);
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) await copyTree(join(from, entry.name), join(to, entry.name));
}

/** A copy of this checkout's program whose version is `version`: the next release. */
async function nextRelease(dir: string, version: string): Promise<string> {
  const root = join(dir, "next-release");
  const repo = new URL("../..", import.meta.url).pathname;
  await Deno.mkdir(root);
  for (const part of RELEASE_PARTS) await copyTree(join(repo, part), join(root, part));
  const file = join(root, "core", "version.ts");
  const text = await Deno.readTextFile(file);
  assert.ok(text.includes(`VERSION = "${VERSION}"`));
  await Deno.writeTextFile(file, text.replace(`VERSION = "${VERSION}"`, `VERSION = "${version}"`));
  return join(root, "main.ts");
}

Deno.test({
  name: "upgrade by init from the next release under load: no call fails, every call is one row, status " +
    "shows the new daemon; rollback by init from the previous one leaves a metering daemon",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const h = await supervisedHome("h11-upgrade-", HOST);
    const { dir, home, run, fake, env, edgePort: edge } = h;
    const next = await nextRelease(dir, NEXT);
    const status = async (main = MAIN) =>
      JSON.parse((await runCli(["status", "--json"], env, main)).stdout) as StatusReport;
    try {
      const first = await runCli(["init", "--non-interactive"], env);
      assert.equal(first.code, 0, first.stderr);
      const caCerts = [
        await Deno.readTextFile(join(home, ".mitmproxy", "mitmproxy-ca-cert.pem")),
        fake.caPem,
      ];
      const edgePid = livePid(run, "edge");
      const traffic = startTraffic({ edgePort: edge, caCerts, host: HOST }, {
        keepalive: 4,
        fresh: 2,
        stream: 2,
        thinkMs: 20,
        streamEvents: 30,
        streamGapMs: 100,
      });
      await new Promise((r) => setTimeout(r, 1500));
      const upgradeAt = Date.now();
      const upgrade = await runCli(["init", "--non-interactive"], env, next);
      assert.equal(upgrade.code, 0, upgrade.stderr);
      await new Promise((r) => setTimeout(r, 2000));
      const calls = await traffic.stop();
      assert.equal(describeFailures(calls, upgradeAt), "", "no call failed (times after the upgrade began)");
      await waitFor(
        "a row for every call",
        () => Promise.resolve(rowsSeen(home).length === calls.length),
        60_000,
      );
      const s = await status(next);
      assert.equal(s.versions.daemon, NEXT, "the new release's daemon is live");
      assert.equal(s.versions.edge, VERSION, "the edge kept its port, and its version");
      assert.equal(livePid(run, "edge"), edgePid);
      assert.ok(s.notes.some((n) => n.includes(`the edge runs version ${VERSION}`)));
      assert.ok(!s.notes.some((n) => n.includes("upgrade is not applied")));
      const before = await status(MAIN);
      assert.ok(
        before.notes.some((n) =>
          n.includes(`the daemon runs version ${NEXT}`) && n.includes("run 'halton-meter init'")
        ),
      );
      console.log(`upgrade: ${calls.length} calls, 0 failed, ${rowsSeen(home).length} rows`);

      const rollback = await runCli(["init", "--non-interactive"], env);
      assert.equal(rollback.code, 0, rollback.stderr);
      assert.equal((await status()).versions.daemon, VERSION, "the previous release's daemon is live again");
      const after = startTraffic({ edgePort: edge, caCerts, host: HOST }, { fresh: 1, thinkMs: 50 });
      await new Promise((r) => setTimeout(r, 500));
      const more = await after.stop();
      assert.equal(describeFailures(more), "");
      await waitFor(
        "rows after the rollback",
        () => Promise.resolve(rowsSeen(home).length === calls.length + more.length),
        30_000,
      );
    } finally {
      await h.close();
    }
  },
});
