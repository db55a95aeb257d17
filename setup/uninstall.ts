/**
 * `uninstall`: stop and remove the services, then put back what `system_state.json` recorded (env
 * variables and files, rc blocks, certifi bundles, trust, the system proxy) and remove the meter's own files.
 * `db.sqlite` stays unless `purge` is set (the command decides when the user has confirmed it). A missing or
 * corrupt record still removes everything that carries our markers.
 *
 * @module
 */
import { join } from "node:path";
import { loadConfig } from "../core/config.ts";
import { effectivePorts } from "../core/ports.ts";
import { certSha1 } from "../platform/ca_bundle.ts";
import type { PlatformContext } from "../platform/types.ts";
import { CERTIFI_START, certifiBundle, unpatchBundle } from "./certifi.ts";
import type { Journal, StepReport } from "./journal.ts";
import {
  detectServiceManager,
  type Machine,
  machinePaths,
  machinePlatform,
  platformContext,
} from "./machine.ts";
import { restoreRc } from "./init_steps.ts";
import { fromBase64, readState, type SystemState } from "./state.ts";
import { StepRunner } from "./steps.ts";

/** What `uninstall` was asked to do. */
export interface UninstallOptions {
  /** Delete `db.sqlite` too: set only after the user confirmed it. */
  purge: boolean;
}

/** What `uninstall` did. */
export interface UninstallResult {
  steps: StepReport[];
  /** Files of the meter's folder left in place (the database, the user's config). */
  kept: string[];
  /** Set when `system_state.json` could not be read: where it went. */
  corruptMovedTo?: string;
}

/** The step names, in order. */
export const UNINSTALL_STEPS = ["services", "env", "certifi", "trust", "files"] as const;

/** Runs `uninstall` on `m`. */
export async function runUninstall(m: Machine, opts: UninstallOptions): Promise<UninstallResult> {
  const paths = machinePaths(m);
  const read = readState(m.fs, paths.systemState, m.now());
  if (read.corrupt) {
    m.progress(
      `warning: ${paths.systemState} could not be read (${read.corrupt.reason}); moved to ` +
        `${read.corrupt.movedTo}. Removing what carries the meter's markers; variables and proxy settings it ` +
        `recorded cannot be put back automatically (see that file).`,
    );
  }
  const state = read.state;
  const ports = state?.ports ??
    effectivePorts(m.fs.local(paths.effectivePorts), loadConfig(m.fs.local(paths.config)));
  const ctx: PlatformContext = {
    ...platformContext(m, state?.mode ?? "env", ports),
    command: state?.command.length ? state.command : m.command,
  };
  const platform = machinePlatform(m);
  const steps = new StepRunner(m, false, UNINSTALL_STEPS.length);

  await steps.step("services", async (j) => {
    const manager = state?.serviceManager ?? await detectServiceManager(m);
    if (m.supervisor.running()) {
      j.commands.push({
        line: "halton-meter stop --all",
        why: "stop the supervisor, the daemon and the edge",
        status: "done",
      });
      await m.supervisor.stopAll();
    }
    if (manager !== "supervisor") await j.run(platform.uninstallServices(ctx));
    restoreFiles(j, state, "service");
    return manager === "supervisor" ? "supervisor stopped" : "services stopped and removed";
  });

  await steps.step("env", async (j) => {
    if (state?.env) await j.run(platform.restoreUserEnv(ctx, nullToUndefined(state.env.before)));
    restoreFiles(j, state, "env");
    for (const rc of platform.shellRcFiles(ctx)) {
      const text = m.fs.readText(rc.path);
      const rec = state?.rcFiles[rc.path];
      if (text === undefined || (!rec && !text.includes("# >>> halton-meter >>>"))) continue;
      restoreRc(j, rc.path, text, rec?.existed ?? true, `${rc.shell} rc block`, m.fs.mode(rc.path));
    }
    if (state?.proxy) await j.run(platform.restoreSystemProxy(state.proxy.before));
    return state?.proxy
      ? "variables, rc blocks and system proxy put back"
      : "variables and rc blocks put back";
  });

  await steps.step("certifi", async (j) => {
    const bundles = new Set((state?.certifi ?? []).map((c) => c.bundle));
    for (const python of m.pythons()) {
      const b = await certifiBundle(m.runner, python);
      if (b && m.fs.readText(b)?.includes(CERTIFI_START)) bundles.add(b);
    }
    for (const b of bundles) {
      const text = m.fs.readText(b);
      if (text === undefined) continue;
      const rest = unpatchBundle(text);
      if (rest !== text) j.writeText(b, rest, "certifi bundle", m.fs.mode(b));
    }
    return bundles.size ? `${bundles.size} bundle${bundles.size === 1 ? "" : "s"} restored` : "none patched";
  });

  await steps.step("trust", async (j) => {
    if (!state?.trust) {
      return {
        summary: state ? "nothing trusted by init" : "no record of what init trusted: left as is",
        status: "skipped",
      };
    }
    const pem = m.fs.readText(paths.caCert);
    const sha1 = pem ? await certSha1(pem).catch(() => state.trust!.sha1) : state.trust.sha1;
    await j.run(
      platform.untrustCa(ctx, { sha1, caCert: paths.caCert, system: state.trust.stores.includes("system") }),
    );
    return `removed from: ${state.trust.stores.join(", ")}`;
  });

  const kept: string[] = [];
  await steps.step("files", (j) => {
    for (const p of [paths.effectivePorts, paths.installMode, paths.caBundle]) {
      j.remove(p, "the meter's file");
    }
    for (const dir of [paths.logs, paths.run, join(paths.home, "tasks")]) {
      if (m.fs.exists(dir)) {
        m.fs.removeTree(dir);
        j.files.push({ path: dir, purpose: "the meter's folder", change: "removed" });
      }
    }
    if (state?.caCreated) {
      j.remove(paths.caKeyAndCert, "the CA init created");
      j.remove(paths.caCert, "the CA certificate");
      if (m.fs.list(paths.caDir).length === 0) j.remove(paths.caDir, "the CA folder");
    }
    for (const suffix of ["", "-wal", "-shm"]) {
      const db = paths.db + suffix;
      if (!m.fs.exists(db)) continue;
      if (opts.purge) j.remove(db, "the database (--purge)");
      else kept.push(db);
    }
    if (m.fs.exists(paths.config)) kept.push(paths.config);
    j.remove(paths.systemState, "the record of what init changed");
    if (m.fs.list(paths.home).length === 0) j.remove(paths.home, "the meter's folder");
    return kept.length ? `kept ${kept.join(", ")}` : "nothing left";
  });
  return { steps: steps.reports, kept, corruptMovedTo: read.corrupt?.movedTo };
}

/** Puts back the recorded files of `kind`: removed when init created them, their old bytes otherwise. */
function restoreFiles(j: Journal, state: SystemState | undefined, kind: "service" | "env"): void {
  for (const [path, rec] of Object.entries(state?.files ?? {})) {
    if (rec.kind !== kind) continue;
    if (rec.before === null) j.remove(path, rec.purpose);
    else j.restore(path, fromBase64(rec.before), rec.purpose);
  }
}

function nullToUndefined(r: Record<string, string | null>): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v ?? undefined]));
}
