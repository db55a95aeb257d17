/**
 * Windows for real (see `_real.ts` for when these run): the edge as a Task Scheduler task registered from the
 * meter's XML, the CA in the user's Root store with `certutil -user`, and user variables in `HKCU\Environment`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { windows } from "../../../platform/windows/mod.ts";
import { writeRendered } from "../../../platform/files.ts";
import { runPlan } from "../../../platform/plan.ts";
import { certSha1 } from "../../../platform/ca_bundle.ts";
import { TASK_NAMES } from "../../../platform/windows/task_xml.ts";
import { loadOrCreateCa } from "../../../tls/mod.ts";
import { accepts, waitFor } from "../../../testkit/processes.ts";
import { boundedRunner, realContext, realName, skipReason } from "./_real.ts";

const ignore = skipReason("windows") !== undefined;
const runner = boundedRunner();

Deno.test({
  name: realName("windows", "schtasks registers the edge task from the meter's XML, runs it, and ends it"),
  ignore,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "hm-schtasks-" });
    const ctx = await realContext("windows", join(root, "user"), join(root, "meter"));
    try {
      for (const f of windows.serviceFiles(ctx)) writeRendered(f);
      await runPlan(windows.installServices(ctx, ["edge"]), runner);
      await runPlan(windows.startServices(ctx, ["edge"]), runner);
      await waitFor("the edge started by Task Scheduler", () => accepts(ctx.ports.edge), 60_000);
      const q = await runner("schtasks.exe", ["/Query", "/TN", TASK_NAMES.edge, "/FO", "LIST"]);
      assert.equal(q.code, 0, q.stderr);
      assert.match(q.stdout, /Running/);
      await runPlan(windows.stopServices(ctx, ["edge"]), runner);
      await waitFor("the edge gone", async () => !(await accepts(ctx.ports.edge).catch(() => false)), 30_000);
    } finally {
      await runPlan(windows.uninstallServices(ctx), runner).catch(() => {});
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: realName("windows", "certutil -user puts the CA in the user's Root store, and untrust removes it"),
  ignore,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "hm-certutil-" });
    const ctx = await realContext("windows", join(root, "user"), join(root, "meter"));
    const { ca } = await loadOrCreateCa(ctx.paths);
    const sha1 = await certSha1(ca.certPem);
    try {
      await runPlan(windows.trustCa(ctx, { caCert: ctx.paths.caCert }), runner);
      const found = await runner("certutil.exe", ["-user", "-store", "Root", sha1]);
      assert.equal(found.code, 0, found.stdout + found.stderr);
      await runPlan(windows.untrustCa(ctx, { caCert: ctx.paths.caCert, sha1 }), runner);
      const gone = await runner("certutil.exe", ["-user", "-store", "Root", sha1]);
      assert.notEqual(gone.code, 0, "untrust removed it");
    } finally {
      await runner("certutil.exe", ["-user", "-delstore", "Root", sha1]);
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: realName("windows", "user variables are written to HKCU\\Environment, read back, and put back"),
  ignore,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "hm-registry-" });
    const ctx = await realContext("windows", join(root, "user"), join(root, "meter"));
    const name = "HALTON_METER_REAL_TEST";
    try {
      await runPlan(windows.applyUserEnv(ctx, [{ name, value: "http://127.0.0.1:1" }]), runner);
      assert.deepEqual(await windows.probeUserEnv(runner, [name]), { [name]: "http://127.0.0.1:1" });
      await runPlan(windows.restoreUserEnv(ctx, { [name]: undefined }), runner);
      assert.deepEqual(await windows.probeUserEnv(runner, [name]), { [name]: undefined });
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
