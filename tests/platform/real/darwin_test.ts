/**
 * macOS for real (see `_real.ts` for when these run): the meter's edge as a LaunchAgent loaded into the user's
 * GUI session, and the CA trusted in, then removed from, a temporary keychain.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { darwin } from "../../../platform/darwin/mod.ts";
import { writeRendered } from "../../../platform/files.ts";
import { runPlan } from "../../../platform/plan.ts";
import { certSha1 } from "../../../platform/ca_bundle.ts";
import { loadOrCreateCa } from "../../../tls/mod.ts";
import { accepts, waitFor } from "../../../testkit/processes.ts";
import { boundedRunner, realContext, realName, skipReason } from "./_real.ts";

const ignore = skipReason("darwin") !== undefined;
const runner = boundedRunner();

Deno.test({
  name: realName(
    "darwin",
    "launchd runs the edge agent in the user's GUI session, and unloading it stops it",
  ),
  ignore,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "hm-launchd-" });
    const ctx = await realContext("darwin", join(root, "user"), join(root, "meter"));
    try {
      for (const f of darwin.serviceFiles(ctx)) writeRendered(f);
      await runPlan(darwin.installServices(ctx, ["edge"]), runner);
      await runPlan(darwin.startServices(ctx, ["edge"]), runner);
      await waitFor("the edge started by launchd", () => accepts(ctx.ports.edge), 60_000);
      const listed = await runner("launchctl", ["print", `gui/${ctx.uid}/com.haltonlabs.meter.edge`]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /state = running/);
      await runPlan(darwin.stopServices(ctx, ["edge"]), runner);
      await waitFor("the edge gone", async () => !(await accepts(ctx.ports.edge).catch(() => false)), 30_000);
    } finally {
      await runPlan(darwin.uninstallServices(ctx), runner).catch(() => {});
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: realName("darwin", "security trusts the CA in a temporary keychain, and untrust removes it"),
  ignore,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "hm-keychain-" });
    const ctx = await realContext("darwin", join(root, "user"), join(root, "meter"));
    const keychain = join(root, "user", "Library", "Keychains", "login.keychain-db");
    try {
      await Deno.mkdir(join(root, "user", "Library", "Keychains"), { recursive: true });
      const made = await runner("security", ["create-keychain", "-p", "", keychain]);
      assert.equal(made.code, 0, made.stderr);
      await runner("security", ["unlock-keychain", "-p", "", keychain]);
      const { ca } = await loadOrCreateCa(ctx.paths);
      const sha1 = (await certSha1(ca.certPem)).toUpperCase();
      await runPlan(darwin.trustCa(ctx, { caCert: ctx.paths.caCert }), runner);
      const found = await runner("security", ["find-certificate", "-a", "-Z", keychain]);
      assert.match(found.stdout.toUpperCase(), new RegExp(sha1), "the CA is in the keychain");
      await runPlan(darwin.untrustCa(ctx, { caCert: ctx.paths.caCert, sha1 }), runner);
      const gone = await runner("security", ["find-certificate", "-a", "-Z", keychain]);
      assert.doesNotMatch(gone.stdout.toUpperCase(), new RegExp(sha1), "untrust removed it");
    } finally {
      await runner("security", ["delete-keychain", keychain]);
      await Deno.remove(root, { recursive: true });
    }
  },
});
