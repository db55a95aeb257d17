/**
 * `status`: every component of the meter in one view (edge, daemon, API health, services or supervisor, CA,
 * trust, env mode), judged healthy or not. Pure over the gathered {@linkcode Facts}.
 *
 * @module
 */
import { VERSION } from "../core/version.ts";
import { type Facts, inForeground } from "./inspect.ts";

/** One component's line. */
export interface Component {
  name: "edge" | "daemon" | "api" | "store" | "database" | "config" | "services" | "ca" | "trust" | "env";
  ok: boolean;
  /** One word: running, stopped, healthy, installed, missing, valid, … */
  state: string;
  detail: string;
  pid?: number;
  port?: number;
}

/** The whole status, as `status --json` prints it. */
export interface StatusReport {
  healthy: boolean;
  version: string;
  mode: string;
  serviceManager: string;
  ports: { edge: number; intercept: number; api: number };
  components: Component[];
  /** The version of this binary, of the running edge and of the running daemon (when they answer). */
  versions: { binary: string; edge?: string; daemon?: string };
  /** What the user should know even when healthy: an upgrade not applied, traffic that went unmetered. */
  notes: string[];
  /** One next step when unhealthy. */
  next?: string;
}

/** Judges the facts. Trust and env are shown but never make the meter unhealthy on their own. */
export function statusReport(f: Facts): StatusReport {
  const c: Component[] = [];
  c.push({
    name: "edge",
    ok: f.edgeUp,
    state: f.edgeUp ? "running" : "stopped",
    detail: f.edgeUp ? `proxy on 127.0.0.1:${f.ports.edge}` : `nothing listens on 127.0.0.1:${f.ports.edge}`,
    pid: f.pids.edge,
    port: f.ports.edge,
  });
  const failure = f.interceptUp ? undefined : f.daemonFailure;
  c.push({
    name: "daemon",
    ok: f.interceptUp,
    state: f.interceptUp ? "running" : failure ? (failure.count > 1 ? "crash loop" : "failed") : "stopped",
    detail: f.interceptUp
      ? `intercept on 127.0.0.1:${f.ports.intercept}`
      : failure
      ? `cannot start${failure.count > 1 ? ` (${failure.count} tries in a row)` : ""}: ${failure.message}; ` +
        "traffic passes unmetered"
      : "not running: traffic passes unmetered",
    pid: f.pids.daemon,
    port: f.ports.intercept,
  });
  c.push({
    name: "api",
    ok: f.api.ok,
    state: f.api.ok ? "healthy" : "down",
    detail: f.api.ok ? `/health ok, version ${f.api.version}` : `/health: ${f.api.detail ?? "no answer"}`,
    port: f.ports.api,
  });
  const store = f.api.ok ? f.api.store : undefined;
  // The folder's own answer names a read-only file system, which SQLite reports only as an I/O error.
  const blocked = f.homeUnwritable?.reason;
  if (store) {
    const counts = `${store.queued ?? 0} queued, ${store.dropped ?? 0} dropped`;
    c.push({
      name: "store",
      ok: store.writing,
      state: store.writing ? "writing" : "not-writing",
      detail: store.writing
        ? `rows are written (${counts})`
        : `rows are not being written: ${
          blocked ?? store.reason ?? "unknown"
        } (${counts}); traffic still flows`,
    });
  } else if (blocked) {
    c.push({
      name: "store",
      ok: false,
      state: "not-writing",
      detail: `rows are not being written: ${blocked}; traffic passes unmetered`,
    });
  }
  if (f.database) {
    c.push({ name: "database", ok: false, state: "unusable", detail: f.database.problem });
  }
  if (f.configIgnored.length) {
    c.push({
      name: "config",
      ok: false,
      state: "ignored",
      detail: `config.toml cannot be used as it is; the edge ignores: ${f.configIgnored.join("; ")}`,
    });
  }
  const foreground = inForeground(f);
  if (f.manager === "supervisor") {
    c.push({
      name: "services",
      ok: f.supervisor !== undefined || foreground,
      state: f.supervisor ? "supervised" : foreground ? "foreground" : "stopped",
      detail: f.supervisor
        ? "built-in supervisor (no service manager here)"
        : foreground
        ? "edge and daemon run in the foreground ('halton-meter up'), not supervised"
        : "the built-in supervisor is not running",
      pid: f.supervisor?.pid,
    });
  } else {
    const missing = f.serviceFiles.filter((s) => s.state === "missing");
    const differs = f.serviceFiles.filter((s) => s.state === "differs");
    c.push({
      name: "services",
      ok: missing.length === 0,
      state: missing.length ? "missing" : differs.length ? "edited" : "installed",
      detail: missing.length
        ? `${missing.map((s) => s.path).join(", ")} missing`
        : differs.length
        ? `${differs.map((s) => s.path).join(", ")} differs from what init writes`
        : `${f.manager}: ${f.serviceFiles.length} definitions current`,
    });
  }
  c.push({
    name: "ca",
    ok: f.ca.present && !f.ca.problem,
    state: !f.ca.present ? "missing" : f.ca.problem ? "unusable" : "valid",
    detail: !f.ca.present
      ? "no CA yet"
      : f.ca.problem ?? `valid until ${f.ca.notAfter!.toISOString().slice(0, 10)}, SHA-1 ${f.ca.sha1}`,
  });
  const trust = f.state?.trust;
  const trusted = trust !== undefined && trust.sha1 === f.ca.sha1 && trust.stores.length > 0;
  c.push({
    name: "trust",
    ok: true,
    state: trusted ? "trusted" : "untrusted",
    detail: trusted ? `in: ${trust.stores.join(", ")}` : "the CA is not in the OS trust stores (run init)",
  });
  c.push({
    name: "env",
    ok: true,
    state: f.mode,
    detail: f.mode === "env"
      ? "meter a command with 'halton-meter run', or eval \"$(halton-meter env)\""
      : `proxy variables for new sessions${f.mode === "full" ? " and the system proxy" : ""}`,
  });
  const healthy = (f.installed || foreground) && c.every((x) => x.ok);
  return {
    healthy,
    version: VERSION,
    mode: f.mode,
    serviceManager: f.manager,
    ports: f.ports,
    components: c,
    versions: { binary: VERSION, edge: f.edge?.version, daemon: f.api.ok ? f.api.version : undefined },
    notes: notes(f),
    next: healthy ? undefined : nextStep(f, c),
  };
}

/** Version mismatches and unmetered traffic, one sentence each. */
function notes(f: Facts): string[] {
  const out: string[] = [];
  if (f.api.ok && f.api.version && f.api.version !== VERSION) {
    out.push(
      `the daemon runs version ${f.api.version} but this binary is ${VERSION}: the upgrade is not applied ` +
        "yet; run 'halton-meter init'.",
    );
  }
  if (f.edge && f.edge.version !== VERSION) {
    out.push(
      `the edge runs version ${f.edge.version} (this binary is ${VERSION}); it keeps its port across upgrades ` +
        "and takes the new version at its next start ('halton-meter restart --all' drops open connections).",
    );
  }
  if (f.interceptUp && f.daemonFailure) {
    const d = f.daemonFailure;
    out.push(
      `a new daemon (version ${d.version}) could not start at ${d.at}: ${d.message}; the one before it keeps ` +
        `serving.${d.hint ? ` ${d.hint}` : ""}`,
    );
  }
  const u = f.edge?.unmetered;
  if (u && u.tunnels > 0) {
    const window = u.first_at && u.last_at ? ` between ${u.first_at} and ${u.last_at}` : "";
    out.push(
      `${u.tunnels} connection${
        u.tunnels === 1 ? "" : "s"
      } to metered hosts (${u.bytes} bytes) went straight ` +
        `to the provider while the daemon was away${window}: spend in that window may be missing from reports` +
        (u.open ? ` (${u.open} still open, closed when idle)` : "") + ".",
    );
  }
  return out;
}

function nextStep(f: Facts, c: Component[]): string {
  if (!f.installed) return "Run 'halton-meter init' to set this machine up.";
  const bad = new Set(c.filter((x) => !x.ok).map((x) => x.name));
  if (bad.has("store") && f.homeUnwritable) return f.homeUnwritable.next;
  if (bad.has("store") && f.api.store?.next) return f.api.store.next;
  if (bad.has("database") && f.database?.next) return f.database.next;
  if (bad.has("config")) return "Fix config.toml (see the config line), then run 'halton-meter restart'.";
  // The built-in supervisor only has to be started again: nothing of init's is missing.
  if (bad.has("services") && f.manager === "supervisor" && !bad.has("ca")) {
    return "Run 'halton-meter start --detach'.";
  }
  if (bad.has("ca") || bad.has("services")) return "Run 'halton-meter init' to repair it.";
  if (bad.has("daemon") && f.daemonFailure?.hint) return f.daemonFailure.hint;
  if (f.manager === "supervisor") return "Run 'halton-meter start --detach'.";
  return "Run 'halton-meter start', then 'halton-meter doctor' if it stays unhealthy.";
}
