/**
 * The middle steps of `init`: trust the CA, patch certifi bundles, and set the mode's variables (env files,
 * user-level variables, shell rc blocks, the system proxy), each recording what was there before.
 *
 * @module
 */
import { basename } from "node:path";
import { certSha1 } from "../platform/ca_bundle.ts";
import { contextVars } from "../platform/env.ts";
import { hasRcBlock, removeRcBlock, renderRcBlock, upsertRcBlock } from "../platform/shell_rc.ts";
import type { PlatformContext, Step } from "../platform/types.ts";
import { bundleScope, certifiBundle, isPatched, patchBundle } from "./certifi.ts";
import type { Journal } from "./journal.ts";
import { type Machine, machinePaths, machinePlatform } from "./machine.ts";
import type { StepOut } from "./steps.ts";
import { fromBase64, recordBefore, type SystemState, type TrustStore } from "./state.ts";

/** The stores `trustCa` adds the CA to on each OS. */
function storesOf(os: string, system: boolean): TrustStore[] {
  if (os === "darwin") return ["keychain"];
  if (os === "windows") return ["user-root"];
  return system ? ["nss", "system"] : ["nss"];
}

/** Which store a trust step fills, by the command it runs. */
function storeOfStep(step: Step): TrustStore | undefined {
  if (step.kind !== "run") return undefined;
  const line = [step.cmd, ...step.args].join(" ");
  if (line.includes("add-trusted-cert")) return "keychain";
  if (line.includes("-addstore")) return "user-root";
  if (line.includes("update-ca-certificates")) return "system";
  if (step.args.includes("-A")) return "nss";
  return undefined;
}

/**
 * Trusts the CA. On Linux the system store is added only with consent: `--system-trust`, or a yes to the
 * question when a person can answer it. A missing `certutil` or `security` skips that store with a note on
 * how to install it; trust never fails `init` (the self-test does not depend on it).
 */
export async function trustStep(
  m: Machine,
  j: Journal,
  ctx: PlatformContext,
  state: SystemState,
  caPem: string | undefined,
  opts: { nonInteractive?: boolean; systemTrust?: boolean },
): Promise<StepOut<void>> {
  let system = state.trust?.stores.includes("system") ?? false;
  if (m.os === "linux" && !system) {
    if (opts.systemTrust) system = true;
    else if (!opts.nonInteractive && !j.dryRun && m.ask) {
      system = (await m.ask(
        "Also trust the meter's CA system-wide (for tools that read /etc/ssl)? This runs sudo. [y/N] ",
      )) ?? false;
    }
  }
  const wanted = storesOf(m.os, system);
  const sha1 = caPem === undefined ? undefined : await certSha1(caPem);
  if (
    sha1 !== undefined && state.trust?.sha1 === sha1 && wanted.every((s) => state.trust!.stores.includes(s))
  ) {
    return `already trusted (${state.trust.stores.join(", ")})`;
  }
  const paths = machinePaths(m);
  // Every trust step is optional: a refused password or a missing tool leaves a note, not a failed init.
  const plan = machinePlatform(m).trustCa(ctx, { caCert: paths.caCert, system })
    .map((s) => s.kind === "run" ? { ...s, optional: true } : s);
  const outcomes = await j.run(plan);
  if (j.dryRun || sha1 === undefined) return `would trust the CA in: ${wanted.join(", ")}`;
  const done = new Set<TrustStore>(state.trust?.sha1 === sha1 ? state.trust.stores : []);
  for (const o of outcomes) {
    const store = storeOfStep(o.step);
    if (store && o.status === "done") done.add(store);
  }
  state.trust = { sha1, stores: [...done] };
  const missing = wanted.filter((s) => !done.has(s));
  if (m.os === "linux" && !system) {
    j.note("system store not changed (run init with --system-trust to add it)");
  }
  return missing.length
    ? {
      summary: `trusted in: ${[...done].join(", ") || "none"}; not in: ${missing.join(", ")}`,
      status: "warned",
    }
    : `trusted in: ${[...done].join(", ")}`;
}

/**
 * Appends the CA to the certifi bundle of each Python found, between markers, and records each one. A bundle
 * that is really a system file is left alone and said so: the system store (`--system-trust`) is the consented
 * way to change what every program trusts.
 */
export async function certifiStep(
  m: Machine,
  j: Journal,
  state: SystemState,
  caPem: string | undefined,
): Promise<StepOut<void>> {
  const bundles: { python: string; bundle: string }[] = [];
  for (const python of m.pythons()) {
    const bundle = await certifiBundle(m.runner, python);
    if (bundle && !bundles.some((b) => b.bundle === bundle)) bundles.push({ python, bundle });
  }
  if (bundles.length === 0) return { summary: "no Python with certifi found", status: "skipped" };
  for (const b of bundles) {
    const text = m.fs.readText(b.bundle);
    if (text === undefined) {
      j.note(`${b.python} names ${b.bundle}, which does not exist`);
      continue;
    }
    const purpose = `certifi bundle of ${b.python}`;
    const real = m.fs.realPath(b.bundle);
    if (bundleScope(real, machinePaths(m).userHome, m.os) === "system") {
      const via = real === b.bundle ? "" : ` (it is ${real})`;
      j.note(
        `left alone: ${b.bundle}${via} is a system-wide bundle, not ${b.python}'s own; ` +
          (state.trust?.stores.includes("system")
            ? "the system store, which that file is built from, trusts the CA"
            : "'halton-meter run' sets REQUESTS_CA_BUNDLE for that Python, or run init with --system-trust"),
      );
      continue;
    }
    if (caPem === undefined) {
      j.files.push({ path: b.bundle, purpose, change: "changed" });
      continue;
    }
    try {
      if (isPatched(text, caPem)) j.files.push({ path: b.bundle, purpose, change: "unchanged" });
      else j.writeText(b.bundle, patchBundle(text, caPem), purpose, m.fs.mode(b.bundle));
    } catch (e) {
      j.note(
        `cannot write ${b.bundle} (${
          (e as Error).message.split("\n")[0]
        }); that Python's requests will not ` +
          `trust the meter unless REQUESTS_CA_BUNDLE is set ('halton-meter run' sets it)`,
      );
      continue;
    }
    if (!state.certifi.some((c) => c.bundle === b.bundle)) state.certifi.push(b);
  }
  return `${bundles.length} bundle${bundles.length === 1 ? "" : "s"}: ${
    bundles.map((b) => b.bundle).join(", ")
  }`;
}

/**
 * Sets the mode's variables: the OS's env files and user-level variables (values before are recorded once),
 * the shell rc blocks, `install-mode`, and for `full` the system proxy. A mode that sets fewer things than
 * the last one puts back what the last one changed.
 */
export async function envStep(
  m: Machine,
  j: Journal,
  ctx: PlatformContext,
  state: SystemState,
  shellRc: boolean,
): Promise<StepOut<void>> {
  const platform = machinePlatform(m);
  const paths = machinePaths(m);
  const vars = contextVars(ctx);

  const envFiles = platform.envFiles(ctx);
  for (const f of envFiles) {
    recordBefore(state, m.fs, f.path, "env", f.purpose);
    j.write(f);
  }
  for (const [path, rec] of Object.entries(state.files)) {
    if (rec.kind !== "env" || envFiles.some((f) => f.path === path)) continue;
    if (rec.before === null) j.remove(path, rec.purpose);
    else j.restore(path, fromBase64(rec.before), rec.purpose);
    delete state.files[path];
  }

  if (vars.length) {
    const applied = Object.fromEntries(vars.map((v) => [v.name, v.value]));
    if (JSON.stringify(state.env?.applied) !== JSON.stringify(applied)) {
      const before: Record<string, string | null> = { ...state.env?.before };
      const unknown = vars.map((v) => v.name).filter((n) => !(n in before));
      // Only what the probe names: on Windows `https_proxy` is `HTTPS_PROXY`, and recording it apart as
      // unset would delete the restored value again at uninstall.
      const probed = unknown.length ? await platform.probeUserEnv(m.runner, unknown) : {};
      for (const [n, v] of Object.entries(probed)) before[n] = v ?? null;
      await j.run(platform.applyUserEnv(ctx, vars));
      state.env = { before, applied };
    }
  } else if (state.env) {
    await j.run(platform.restoreUserEnv(ctx, undefinedForNull(state.env.before)));
    delete state.env;
  }

  const login = basename(m.env.SHELL ?? "");
  for (const rc of platform.shellRcFiles(ctx)) {
    const text = m.fs.readText(rc.path);
    const ours = rc.path in state.rcFiles;
    const purpose = `${rc.shell} block with the proxy and CA variables`;
    if (vars.length && shellRc) {
      if (text === undefined && !ours && rc.shell !== login) continue;
      if (!ours) state.rcFiles[rc.path] = { existed: text !== undefined };
      j.writeText(
        rc.path,
        upsertRcBlock(text ?? "", renderRcBlock(rc.shell, vars), rc.path),
        purpose,
        m.fs.mode(rc.path),
      );
    } else if (ours || (text !== undefined && hasRcBlock(text, rc.path))) {
      restoreRc(j, rc.path, text, state.rcFiles[rc.path]?.existed ?? true, purpose, m.fs.mode(rc.path));
      delete state.rcFiles[rc.path];
    }
  }

  j.writeText(paths.installMode, `${ctx.mode}\n`, "the install mode");

  if (ctx.mode === "full") {
    if (state.proxy?.port !== ctx.ports.edge) {
      const before = state.proxy?.before ?? await platform.probeSystemProxy(m.runner);
      await j.run(platform.enableSystemProxy(ctx, before));
      state.proxy = { before, port: ctx.ports.edge };
    }
  } else if (state.proxy) {
    await j.run(platform.restoreSystemProxy(state.proxy.before));
    delete state.proxy;
  }
  return ctx.mode === "env"
    ? "mode env: no variables set for the session (meter with 'halton-meter run', or eval \"$(halton-meter env)\")"
    : `mode ${ctx.mode}: ${vars.length} variables${ctx.mode === "full" ? ", system proxy" : ""}`;
}

/** Takes our block out of an rc file; a file that held only our block and did not exist before is removed. */
export function restoreRc(
  j: Journal,
  path: string,
  text: string | undefined,
  existed: boolean,
  purpose: string,
  mode?: number,
): void {
  if (text === undefined) return;
  const rest = removeRcBlock(text, path);
  if (rest === "" && !existed) j.remove(path, purpose);
  else if (rest !== text) j.writeText(path, rest, purpose, mode);
}

function undefinedForNull(r: Record<string, string | null>): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v ?? undefined]));
}
