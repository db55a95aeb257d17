/**
 * `init` (README.md, "Modes of `init`"): the steps that set a machine up, in order, each recorded in
 * `system_state.json` with what was there before. Every step compares before it acts, so a second run changes
 * nothing and restarts nothing; an upgrade (a new binary path) rewrites the service files and restarts the
 * daemon once, never the edge while it holds its port.
 *
 * @module
 */
import { loadConfig } from "../core/config.ts";
import { negotiatePorts, type Ports, readEffectivePorts } from "../core/ports.ts";
import { caBundle, certSha1 } from "../platform/ca_bundle.ts";
import type { InstallMode, PlatformContext, ServiceName } from "../platform/types.ts";
import { loadOrCreateCa } from "../tls/mod.ts";
import { type Journal, madeChanges, type StepReport } from "./journal.ts";
import { detectServiceManager, type Machine, machinePaths, machinePlatform } from "./machine.ts";
import type { SelfTestResult } from "./probe.ts";
import { readDaemonFailure } from "../core/lifecycle.ts";
import { emptyState, readState, type ServiceManagerKind, type SystemState, writeState } from "./state.ts";
import { certifiStep, envStep, trustStep } from "./init_steps.ts";
import { serviceFilesStep, servicesStep } from "./init_services.ts";
import { runUninstall } from "./uninstall.ts";
import { restartDaemonPlan, StepRunner } from "./steps.ts";

/** What `init` was asked to do. */
export interface InitOptions {
  /** undefined keeps the mode of the last `init` (`install-mode`), or `env` on a first run. */
  mode?: InstallMode;
  nonInteractive?: boolean;
  /** Write the env block into shell rc files (`--apps`, `--full`); default true. */
  shellRc?: boolean;
  /** Roll everything back when the self-test fails. */
  clean?: boolean;
  dryRun?: boolean;
  /** Also trust the CA in the Linux system store without asking. */
  systemTrust?: boolean;
  selfTestTimeoutMs?: number;
}

/** What `init` did. */
export interface InitResult {
  os: string;
  mode: InstallMode;
  dryRun: boolean;
  serviceManager: ServiceManagerKind;
  command: readonly string[];
  ports: Ports;
  steps: StepReport[];
  /** Anything at all changed (or would, when dry). */
  changed: boolean;
  started: ServiceName[];
  restarted: ServiceName[];
  /** Set when the binary path differs from the one the services ran: the previous command. */
  upgradedFrom?: string[];
  selfTest?: SelfTestResult;
  rolledBack?: boolean;
}

/** The step names, in order, for the `[n/8]` progress lines. */
export const INIT_STEPS = [
  "ports",
  "CA",
  "trust",
  "certifi",
  "env",
  "service files",
  "services",
  "self-test",
] as const;

/**
 * Runs `init` on `m`. Never throws for a failed self-test: the result says so (`selfTest.ok`), after one
 * repair attempt (the daemon restarted) and, with `clean`, a rollback.
 *
 * @throws {MeterError} for a bad config, a pinned port in use, or a failed required command.
 */
export async function runInit(m: Machine, opts: InitOptions = {}): Promise<InitResult> {
  const dryRun = (opts.dryRun ?? false) || m.foreign;
  const paths = machinePaths(m);
  // Only a daemon failure recorded during this run explains its self-test.
  const initStarted = Date.now();
  const steps = new StepRunner(m, dryRun, INIT_STEPS.length);

  const read = readState(m.fs, paths.systemState, m.now());
  if (read.corrupt) {
    m.progress(
      `warning: ${paths.systemState} could not be read (${read.corrupt.reason}); it was moved to ` +
        `${read.corrupt.movedTo} and a new record is started. What it recorded is in that file.`,
    );
  }
  const recordedMode = m.fs.readText(paths.installMode)?.trim();
  const mode: InstallMode = opts.mode ??
    (recordedMode === "apps" || recordedMode === "full" || recordedMode === "env" ? recordedMode : "env");
  const manager = await detectServiceManager(m);
  if (manager === "supervisor") {
    m.progress(
      "No service manager answers here ('systemctl --user' is not available): the edge and the daemon run " +
        "under halton-meter's own supervisor ('halton-meter start --detach'), which does not survive a reboot.",
    );
  }
  const state: SystemState = read.state ?? emptyState(m.os, mode, manager);
  const previousCommand = state.command.length ? [...state.command] : undefined;
  state.mode = mode;
  state.serviceManager = manager;
  const save = () => {
    if (!dryRun) writeState(m.fs, paths.systemState, state, m.now());
  };

  // 1. ports
  const loaded = loadConfig(m.fs.local(paths.config));
  for (const w of loaded.warnings) m.progress(`warning: ${w}`);
  const previous = readEffectivePorts(m.fs.local(paths.effectivePorts));
  const held: Partial<Ports> = {};
  if (previous && await m.listening(previous.edge)) held.edge = previous.edge;
  if (previous && (await m.apiHealth(previous.api)).ok) {
    held.intercept = previous.intercept;
    held.api = previous.api;
  }
  const ports = negotiatePorts(loaded, m.isPortFree, held);
  let edgeRunning = held.edge === ports.edge;
  let daemonRunning = held.api === ports.api && held.intercept === ports.intercept;
  const portsChanged = !previous || previous.edge !== ports.edge || previous.intercept !== ports.intercept ||
    previous.api !== ports.api;
  await steps.step("ports", (j) => {
    j.writeText(paths.effectivePorts, JSON.stringify(ports, null, 2) + "\n", "ports every process uses");
    state.ports = ports;
    if (edgeRunning && previous && previous.intercept !== ports.intercept) {
      j.note(
        `the running edge still hands metered connections to port ${previous.intercept} (it reads the ports ` +
          "when it starts); run 'halton-meter restart --all' when a short proxy interruption is acceptable",
      );
    }
    const kept = Object.keys(held).length
      ? ` (kept ${Object.keys(held).join(", ")}: in use by the meter)`
      : "";
    return `edge ${ports.edge}, intercept ${ports.intercept}, api ${ports.api}${kept}`;
  });
  save();

  // 2. CA and the bundle of system roots + CA
  let caPem: string | undefined;
  let caChanged = false;
  await steps.step("CA", async (j) => {
    const existed = m.fs.exists(paths.caKeyAndCert);
    if (!existed && dryRun) {
      return `would create a CA in ${paths.caDir}`;
    }
    const local = {
      caDir: m.fs.local(paths.caDir),
      caKeyAndCert: m.fs.local(paths.caKeyAndCert),
      caCert: m.fs.local(paths.caCert),
    };
    const { ca, created } = await loadOrCreateCa(local, { now: m.now() });
    caPem = ca.certPem;
    const sha1 = await certSha1(caPem);
    if (created) {
      state.caCreated = true;
      j.files.push({ path: paths.caKeyAndCert, purpose: "the CA's key and certificate", change: "created" });
      j.files.push({ path: paths.caCert, purpose: "the CA certificate", change: "created" });
    }
    caChanged = created || (state.caSha1 !== undefined && state.caSha1 !== sha1);
    state.caSha1 = sha1;
    await bundleFile(m, j, caPem, mode);
    return `${created ? "created" : "reused"} ${paths.caKeyAndCert} (SHA-1 ${sha1})`;
  });
  save();

  const ctx = steps.context(mode, ports);
  await steps.step("trust", (j) => trustStep(m, j, ctx, state, caPem, opts));
  save();
  await steps.step("certifi", (j) => certifiStep(m, j, state, caPem));
  save();
  await steps.step("env", (j) => envStep(m, j, ctx, state, opts.shellRc ?? true));
  save();

  const files = await steps.step("service files", async (j) => {
    if (opts.clean) {
      await cleanServices(m, j, ctx, manager);
      if (!dryRun) edgeRunning = daemonRunning = false;
    }
    return serviceFilesStep(m, j, ctx, state, manager, previousCommand);
  });
  save();

  const services = await steps.step("services", (j) =>
    servicesStep(m, j, ctx, state, manager, {
      edgeRunning,
      daemonRunning,
      daemonDependsChanged: portsChanged || caChanged || files.value.changedServices.includes("daemon"),
      changedServices: files.value.changedServices,
    }));
  state.command = [...m.command];
  save();

  const result: InitResult = {
    os: m.os,
    mode,
    dryRun,
    serviceManager: manager,
    command: m.command,
    ports,
    steps: steps.reports,
    changed: false,
    started: services.value.started,
    restarted: services.value.restarted,
    upgradedFrom: previousCommand && previousCommand.join("\0") !== m.command.join("\0")
      ? previousCommand
      : undefined,
  };

  // 8. self-test
  if (dryRun || caPem === undefined) {
    await steps.step("self-test", () => ({ summary: "skipped (dry run)", status: "skipped" as const }));
  } else {
    const pem = caPem;
    const timeout = opts.selfTestTimeoutMs ?? 30_000;
    await steps.step("self-test", async (j) => {
      let r = await m.selfTest(ports.edge, pem, timeout);
      if (!r.ok) {
        j.note(`the self-test failed (${r.detail}); restarting the daemon once and trying again`);
        await restartDaemonPlan(m, j, ctx, manager);
        result.restarted.push("daemon");
        r = await m.selfTest(ports.edge, pem, timeout);
      }
      if (!r.ok) r = { ...r, detail: daemonFailureSince(m, initStarted) ?? r.detail };
      result.selfTest = r;
      return r.ok
        ? `edge ${ports.edge} → daemon → TLS with our CA: ok (${r.detail})`
        : { summary: `FAILED: ${r.detail}`, status: "warned" as const };
    });
  }
  result.changed = steps.reports.some(madeChanges);
  if (result.selfTest && !result.selfTest.ok && opts.clean) {
    m.progress("--clean: rolling back everything init changed");
    await runUninstall(m, { purge: false });
    result.rolledBack = true;
  }
  return result;
}

/**
 * `--clean`: the services re-created from scratch, as for a restart loop: stopped, their definitions and the
 * manager's state for them removed, so the steps that follow write and start them anew. The database, the
 * config, the CA and its trust are not touched.
 */
async function cleanServices(
  m: Machine,
  j: Journal,
  ctx: PlatformContext,
  manager: ServiceManagerKind,
): Promise<void> {
  j.note("--clean: stopping and removing the services, to write and start them anew");
  if (manager !== "supervisor") {
    await j.run(machinePlatform(m).uninstallServices(ctx));
    return;
  }
  j.record("halton-meter stop --all", "stop the supervisor, the daemon and the edge");
  if (!j.dryRun) await m.supervisor.stopAll();
}

/** Why the daemon could not start, when it failed since `since` (ms): the reason and its next step. */
function daemonFailureSince(m: Machine, since: number): string | undefined {
  const f = readDaemonFailure(m.fs.local(machinePaths(m).run));
  if (!f || Date.parse(f.at) < since - 1000) return undefined;
  return `the daemon cannot start: ${f.message}${f.hint ? `. ${f.hint.replace(/\.$/, "")}` : ""}`;
}

/** Writes `ca-bundle.pem`: the OS's roots and our CA. Without roots it is a warning in env mode, an error otherwise. */
async function bundleFile(m: Machine, j: Journal, caPem: string, mode: InstallMode): Promise<void> {
  const source = machinePlatform(m).systemRoots();
  let roots = "";
  if (source.kind === "file") {
    for (const c of source.candidates) {
      const text = m.fs.readText(c);
      if (text) {
        roots = text;
        break;
      }
    }
  } else {
    const r = await m.runner(source.cmd, source.args);
    if (r.code === 0) roots = r.stdout;
  }
  const paths = machinePaths(m);
  try {
    j.writeText(
      paths.caBundle,
      caBundle(roots, caPem),
      "system roots + the meter's CA, for SSL_CERT_FILE and the like",
      0o644,
    );
  } catch (e) {
    if (mode !== "env") throw e;
    j.note(`ca-bundle.pem not written: ${(e as Error).message}`);
  }
}
