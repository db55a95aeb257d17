/**
 * `doctor`: every layer checked (CA, trust, certifi, env, ports, services, database), each judged ok,
 * INCONSISTENT (works, but not as `init` left it) or BROKEN (something does not work), with one concrete next
 * step per failure, and an overall verdict.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { dirname } from "node:path";
import { folderUnwritable } from "../core/writable.ts";
import { BUNDLE_VARS, EXTRA_CA_VARS } from "../platform/proxy_env.ts";
import { NSS_NICKNAME } from "../platform/linux/mod.ts";
import { NOT_FOUND } from "../platform/runner.ts";
import { bundleScope, certifiBundle, isPatched } from "./certifi.ts";
import { type Facts, inForeground } from "./inspect.ts";
import { type Machine, machinePaths } from "./machine.ts";
import { bundledMigrations, checkCompatible } from "../store/migrate.ts";
import { StoreError } from "../core/errors.ts";

/** A check's outcome, best to worst. */
export type CheckStatus = "ok" | "skipped" | "inconsistent" | "broken";

/** One check. */
export interface Check {
  layer: "config" | "ca" | "trust" | "certifi" | "env" | "ports" | "services" | "database";
  status: CheckStatus;
  detail: string;
  /** The one thing to do about it. */
  next?: string;
}

/** The overall verdict. */
export type Verdict = "HEALTHY" | "INCONSISTENT" | "BROKEN";

/** The verdict of a list of checks: the worst one. */
export function verdictOf(checks: readonly Check[]): Verdict {
  if (checks.some((c) => c.status === "broken")) return "BROKEN";
  if (checks.some((c) => c.status === "inconsistent")) return "INCONSISTENT";
  return "HEALTHY";
}

const RUN_INIT = "Run 'halton-meter init' (or 'halton-meter doctor --fix').";

/** The CA's files and validity, and the bundle beside it. */
export function checkCa(m: Machine, f: Facts): Check[] {
  if (!f.ca.present) return [{ layer: "ca", status: "broken", detail: "no CA", next: RUN_INIT }];
  if (f.ca.problem) {
    return [{
      layer: "ca",
      status: "broken",
      detail: f.ca.problem,
      next: `Move ${machinePaths(m).caDir} aside, then run 'halton-meter init' to make a new CA.`,
    }];
  }
  const out: Check[] = [];
  const days = (f.ca.notAfter!.getTime() - m.now().getTime()) / 86_400_000;
  out.push(
    days < 30
      ? {
        layer: "ca",
        status: "inconsistent",
        detail: `the CA expires in ${Math.floor(days)} days`,
        next: `Move ${machinePaths(m).caDir} aside and run 'halton-meter init' before it expires.`,
      }
      : { layer: "ca", status: "ok", detail: `valid until ${f.ca.notAfter!.toISOString().slice(0, 10)}` },
  );
  const bundle = m.fs.readText(machinePaths(m).caBundle);
  const body = f.ca.pem!.trim().split("\n").slice(1, -1).join("\n");
  if (f.mode !== "env" && !bundle?.includes(body)) {
    out.push({
      layer: "ca",
      status: "inconsistent",
      detail: "ca-bundle.pem is missing or lacks the CA",
      next: RUN_INIT,
    });
  }
  return out;
}

/** The trust record against the current CA; on Linux the NSS database is asked too. */
export async function checkTrust(m: Machine, f: Facts): Promise<Check[]> {
  const trust = f.state?.trust;
  if (!f.ca.sha1) return [{ layer: "trust", status: "skipped", detail: "no usable CA" }];
  if (!trust || trust.stores.length === 0) {
    return [{
      layer: "trust",
      status: "inconsistent",
      detail: "the CA is not trusted by the OS",
      next: RUN_INIT,
    }];
  }
  if (trust.sha1 !== f.ca.sha1) {
    return [{
      layer: "trust",
      status: "inconsistent",
      detail: "the trusted CA is not the current one",
      next: RUN_INIT,
    }];
  }
  if (m.os === "linux" && trust.stores.includes("nss")) {
    const db = `sql:${machinePaths(m).userHome}/.pki/nssdb`;
    const r = await m.runner("certutil", ["-L", "-d", db, "-n", NSS_NICKNAME]);
    if (r.code !== 0 && r.code !== NOT_FOUND) {
      return [{
        layer: "trust",
        status: "inconsistent",
        detail: "the CA is gone from the NSS database",
        next: RUN_INIT,
      }];
    }
  }
  return [{ layer: "trust", status: "ok", detail: `trusted in: ${trust.stores.join(", ")}` }];
}

/** Each certifi bundle of a Python on PATH holds the CA. */
export async function checkCertifi(m: Machine, f: Facts): Promise<Check[]> {
  if (!f.ca.pem) return [{ layer: "certifi", status: "skipped", detail: "no usable CA" }];
  const out: Check[] = [];
  const seen = new Set<string>();
  let system = 0;
  for (const python of m.pythons()) {
    const bundle = await certifiBundle(m.runner, python);
    if (!bundle || seen.has(bundle)) continue;
    seen.add(bundle);
    // init leaves a system-wide bundle alone on purpose: its lacking the CA is no inconsistency.
    if (bundleScope(m.fs.realPath(bundle), machinePaths(m).userHome, m.os) === "system") {
      system++;
      continue;
    }
    const text = m.fs.readText(bundle);
    if (text !== undefined && !isPatched(text, f.ca.pem)) {
      out.push({
        layer: "certifi",
        status: "inconsistent",
        detail: `${bundle} (${python}) lacks the CA, e.g. after a pip upgrade of certifi`,
        next: RUN_INIT,
      });
    }
  }
  if (out.length === 0) {
    const own = seen.size - system;
    out.push({
      layer: "certifi",
      status: "ok",
      detail: [
        `${own} bundle(s) hold the CA`,
        ...(system
          ? [`${system} system-wide bundle(s) left alone ('halton-meter run' sets the CA variables)`]
          : []),
      ].join("; "),
    });
  }
  return out;
}

/** `config.toml`: values the edge had to ignore are settings the user made that do not apply. */
export function checkConfig(f: Facts): Check[] {
  if (!f.configIgnored.length) return [];
  return [{
    layer: "config",
    status: "inconsistent",
    detail: `config.toml cannot be used as it is; the edge runs on defaults in place of: ${
      f.configIgnored.join("; ")
    }`,
    next: "Fix config.toml where each problem says (file, line and key); the daemon needs it valid to start.",
  }];
}

/** The proxy and CA variables of the environment doctor runs in: a stale proxy variable breaks every request. */
export async function checkEnv(m: Machine, f: Facts): Promise<Check[]> {
  const out: Check[] = [];
  for (const name of ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]) {
    const value = m.env[name];
    if (!value) continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      continue;
    }
    if (!["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) continue;
    const port = Number(url.port || 80);
    if (port !== f.ports.edge || !(await m.listening(port))) {
      out.push({
        layer: "env",
        status: "broken",
        detail:
          `${name}=${value} points at a port where ${
            port === f.ports.edge ? "nothing listens" : "the edge is not"
          }` +
          ": every proxied request from this shell fails",
        next: port === f.ports.edge
          ? "Run 'halton-meter start' (or unset the variable)."
          : `Open a new terminal (init updated the variables), or: eval "$(halton-meter env)".`,
      });
    }
  }
  for (const name of [...BUNDLE_VARS, ...EXTRA_CA_VARS]) {
    const value = m.env[name];
    if (value && value.includes("halton-meter") && !m.fs.exists(value)) {
      out.push({
        layer: "env",
        status: "broken",
        detail: `${name}=${value} names a missing file`,
        next: RUN_INIT,
      });
    }
  }
  if (out.length === 0) {
    out.push({ layer: "env", status: "ok", detail: `mode ${f.mode}; no stale variables here` });
  }
  return out;
}

/** The ports: recorded, the edge listening, the daemon answering, the self-test through both. */
export async function checkPorts(m: Machine, f: Facts): Promise<Check[]> {
  if (!f.installed) {
    return [{
      layer: "ports",
      status: "broken",
      detail: "effective-ports.json is missing: not set up",
      next: RUN_INIT,
    }];
  }
  const start = f.manager === "supervisor" ? "halton-meter start --detach" : "halton-meter start";
  if (!f.edgeUp) {
    return [{
      layer: "ports",
      status: "broken",
      detail: `the edge does not listen on ${f.ports.edge}`,
      next: `Run '${start}'.`,
    }];
  }
  if ((!f.api.ok || !f.interceptUp) && f.daemonFailure) {
    const d = f.daemonFailure;
    return [{
      layer: "ports",
      status: "broken",
      detail: `the daemon cannot start${d.count > 1 ? ` (${d.count} tries in a row, a crash loop)` : ""}: ` +
        `${d.message}; traffic passes unmetered`,
      next: d.hint ?? `See logs/daemon.jsonl, then run '${start}'.`,
    }];
  }
  if (!f.api.ok || !f.interceptUp) {
    return [{
      layer: "ports",
      status: "broken",
      detail: `the daemon does not answer (api ${f.ports.api}: ${
        f.api.detail ?? "ok"
      }; intercept ${f.ports.intercept}: ${
        f.interceptUp ? "listening" : "closed"
      }); traffic passes unmetered`,
      next: `Run '${start}'; if it keeps failing, see logs/daemon.jsonl.`,
    }];
  }
  if (f.ca.pem) {
    const r = await m.selfTest(f.ports.edge, f.ca.pem, 5_000);
    if (!r.ok) {
      return [{
        layer: "ports",
        status: "broken",
        detail: `the self-test through the edge fails: ${r.detail}`,
        next: "Run 'halton-meter restart'; if it still fails, another program may hold a port: run init.",
      }];
    }
  }
  return [{
    layer: "ports",
    status: "ok",
    detail: `edge ${f.ports.edge}, intercept ${f.ports.intercept}, api ${f.ports.api}; self-test ok`,
  }];
}

/** The service definitions as init writes them, or the supervisor running. */
export function checkServices(f: Facts): Check[] {
  if (f.manager === "supervisor") {
    return [
      f.supervisor
        ? { layer: "services", status: "ok", detail: `built-in supervisor, pid ${f.supervisor.pid}` }
        : inForeground(f)
        ? {
          layer: "services",
          status: "ok",
          detail: "edge and daemon run in the foreground ('halton-meter up'), not supervised",
        }
        : {
          layer: "services",
          status: "broken",
          detail: "no service manager here and the built-in supervisor is not running",
          next: "Run 'halton-meter start --detach'.",
        },
    ];
  }
  const out: Check[] = [];
  for (const s of f.serviceFiles) {
    if (s.state === "missing") {
      out.push({ layer: "services", status: "broken", detail: `${s.path} is missing`, next: RUN_INIT });
    } else if (s.state === "differs") {
      out.push({
        layer: "services",
        status: "inconsistent",
        detail: `${s.path} was changed by hand`,
        next: "Run 'halton-meter init' to rewrite it.",
      });
    }
  }
  if (out.length === 0) {
    out.push({ layer: "services", status: "ok", detail: `${f.manager}: definitions current` });
  }
  return out;
}

/** `PRAGMA quick_check` on a read-only connection. */
export function checkDatabase(m: Machine): Check[] {
  const file = machinePaths(m).db;
  if (!m.fs.exists(file)) {
    return [{ layer: "database", status: "ok", detail: "no database yet (made at first start)" }];
  }
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(m.fs.local(file), { readOnly: true });
    const refused = compatibility(db, file);
    if (refused) return [refused];
    const rows = db.prepare("PRAGMA quick_check").all() as { quick_check: string }[];
    const said = rows.map((r) => r.quick_check);
    return said.length === 1 && said[0] === "ok"
      ? [{ layer: "database", status: "ok", detail: `${file}: quick_check ok` }]
      : [{
        layer: "database",
        status: "broken",
        detail: `${file}: ${said.slice(0, 3).join("; ")}`,
        next: `Stop the daemon, copy ${file} aside, and recover it with: sqlite3 ${file} .recover`,
      }];
  } catch (e) {
    // SQLite cannot open a WAL database in a folder where it may not make its `-shm` file: that is the
    // folder's fault, which `checkWriter` names, not the file's.
    if (folderUnwritable(dirname(m.fs.local(file)))) return [];
    return [{
      layer: "database",
      status: "broken",
      detail: `${file} cannot be read: ${(e as Error).message.split("\n")[0]}`,
      next: `Move ${file} aside (the daemon makes a new one), and keep the old one to recover from.`,
    }];
  } finally {
    db?.close();
  }
}

/**
 * The running daemon's row writer, and the meter's folder: rows that are not being written are a broken meter,
 * whatever the cause.
 */
export function checkWriter(f: Facts): Check[] {
  const store = f.api.ok ? f.api.store : undefined;
  const blocked = f.homeUnwritable;
  if (blocked && !(store?.writing)) {
    return [{
      layer: "database",
      status: "broken",
      detail: `rows are not being written: ${blocked.reason}` +
        (store ? ` (${store.queued ?? 0} queued, ${store.dropped ?? 0} dropped)` : ""),
      next: blocked.next,
    }];
  }
  if (!store || store.writing) return [];
  return [{
    layer: "database",
    status: "broken",
    detail: `rows are not being written: ${store.reason ?? "unknown"} (${store.queued ?? 0} queued, ` +
      `${store.dropped ?? 0} dropped)`,
    next: store.next,
  }];
}

/** Whether this binary may use the database (a rollback past an incompatible change may not). */
function compatibility(db: DatabaseSync, file: string): Check | undefined {
  try {
    checkCompatible(db, bundledMigrations(), file);
    return undefined;
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
    return { layer: "database", status: "broken", detail: e.message, next: e.hint ?? RUN_INIT };
  }
}

/** Runs every check. */
export async function runChecks(m: Machine, f: Facts): Promise<Check[]> {
  const out: Check[] = [];
  if (f.corrupt) {
    out.push({
      layer: "services",
      status: "inconsistent",
      detail: `system_state.json cannot be read (${f.corrupt})`,
      next: "Run 'halton-meter init': it moves the file aside and starts a new record.",
    });
  }
  out.push(...checkConfig(f));
  out.push(...checkCa(m, f));
  out.push(...await checkTrust(m, f));
  out.push(...await checkCertifi(m, f));
  out.push(...await checkEnv(m, f));
  out.push(...await checkPorts(m, f));
  out.push(...checkServices(f));
  out.push(...checkDatabase(m), ...checkWriter(f));
  return out;
}
