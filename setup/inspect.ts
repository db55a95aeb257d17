/**
 * The facts `status` and `doctor` judge, gathered read-only: the record, the ports and what answers on them,
 * the supervisor's pids, the CA's validity, and whether the service files are still what `init` wrote.
 *
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { loadConfig } from "../core/config.ts";
import { effectivePorts, type Ports, readEffectivePorts } from "../core/ports.ts";
import { databaseProblem } from "../store/open.ts";
import { folderUnwritable, type Unwritable } from "../core/writable.ts";
import { certSha1, pemCertificates } from "../platform/ca_bundle.ts";
import type { InstallMode, PlatformContext } from "../platform/types.ts";
import { type Machine, machinePaths, machinePlatform, platformContext } from "./machine.ts";
import type { ApiHealth } from "./probe.ts";
import { livePid, processAlive } from "./pids.ts";
import { type DaemonFailure, readDaemonFailure } from "../core/lifecycle.ts";
import { type EdgeState, edgeStateFile, readEdgeState } from "../core/edge_state.ts";
import { readState, type ServiceManagerKind, type SystemState } from "./state.ts";
import type { SupervisorInfo } from "./supervisor.ts";

/** What is known about the CA files. */
export interface CaFacts {
  present: boolean;
  sha1?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** Why the CA cannot be used, when it cannot. */
  problem?: string;
  pem?: string;
}

/** What `status` and `doctor` look at. */
export interface Facts {
  state?: SystemState;
  /** Set when `system_state.json` is there but unreadable. */
  corrupt?: string;
  /** `init` has run here (a record or `effective-ports.json` exists). */
  installed: boolean;
  mode: InstallMode;
  manager: ServiceManagerKind;
  ports: Ports;
  edgeUp: boolean;
  interceptUp: boolean;
  api: ApiHealth;
  supervisor?: SupervisorInfo;
  pids: { edge?: number; daemon?: number };
  /** Why the last daemon could not start, when it could not (`run/daemon-error.json`). */
  daemonFailure?: DaemonFailure;
  /** What the running edge wrote about itself (`run/edge.json`): its version, what went unmetered. */
  edge?: EdgeState;
  ca: CaFacts;
  /** Why the database cannot be used (not SQLite, corrupted), checked while no daemon answers. */
  database?: { problem: string; next?: string };
  /** Why no file can be made in the meter's folder (read-only, not ours, full): no row can be written. */
  homeUnwritable?: Unwritable;
  /** What a lenient load of config.toml had to ignore (the edge runs on defaults in their place). */
  configIgnored: string[];
  /** Each service file as `init` would write it now, and how the disk differs. */
  serviceFiles: { path: string; state: "current" | "missing" | "differs" }[];
  ctx: PlatformContext;
}

/**
 * Whether `halton-meter up` runs this home's edge and daemon in the foreground, with no supervisor and maybe
 * no init: healthy. Its edge says so in this home's `run/edge.json` (its pid alive): another home's `up` on
 * the same ports, or the services' edge, is not.
 */
export function inForeground(f: Facts): boolean {
  return f.supervisor === undefined && f.edge?.up === true && f.interceptUp && f.api.ok;
}

/** Reads the CA's certificate and key: validity, fingerprint, and whether the key matches. */
export async function caFacts(m: Machine): Promise<CaFacts> {
  const paths = machinePaths(m);
  const pem = m.fs.readText(paths.caCert);
  const both = m.fs.readText(paths.caKeyAndCert);
  if (pem === undefined && both === undefined) return { present: false };
  if (pem === undefined || pemCertificates(pem).length === 0) {
    return { present: true, problem: `${paths.caCert} is missing or holds no certificate` };
  }
  try {
    const cert = new X509Certificate(pem);
    const facts: CaFacts = {
      present: true,
      pem,
      sha1: await certSha1(pem),
      notBefore: new Date(cert.validFrom),
      notAfter: new Date(cert.validTo),
    };
    const now = m.now();
    if (facts.notAfter!.getTime() <= now.getTime()) {
      facts.problem = `the CA expired on ${facts.notAfter!.toISOString().slice(0, 10)}`;
    } else if (both === undefined) {
      facts.problem = `${paths.caKeyAndCert} (the CA's key) is missing`;
    } else {
      const key = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/.exec(both)
        ?.[0];
      if (!key || !cert.checkPrivateKey(createPrivateKey(key))) {
        facts.problem = `${paths.caKeyAndCert} does not hold the key of ${paths.caCert}`;
      }
    }
    return facts;
  } catch (e) {
    return {
      present: true,
      problem: `${paths.caCert} cannot be read as a certificate (${(e as Error).message})`,
    };
  }
}

/** Gathers the facts; nothing is written or moved. */
export async function gatherFacts(m: Machine): Promise<Facts> {
  const paths = machinePaths(m);
  const read = readState(m.fs, paths.systemState, m.now(), { moveAside: false });
  const state = read.state;
  const recorded = readEffectivePorts(m.fs.local(paths.effectivePorts));
  const loaded = loadConfig(m.fs.local(paths.config), { lenient: true });
  const ports = recorded ?? effectivePorts(m.fs.local(paths.effectivePorts), loaded);
  const modeText = m.fs.readText(paths.installMode)?.trim();
  const mode: InstallMode = modeText === "apps" || modeText === "full" ? modeText : "env";
  const supervisor = m.supervisor.running();
  const manager: ServiceManagerKind = supervisor ? "supervisor" : state?.serviceManager ?? "supervisor";
  const ctx: PlatformContext = {
    ...platformContext(m, mode, ports),
    command: state?.command.length ? state.command : m.command,
  };
  const [edgeUp, interceptUp, api, ca] = await Promise.all([
    m.listening(ports.edge),
    m.listening(ports.intercept),
    m.apiHealth(ports.api),
    caFacts(m),
  ]);
  // A running daemon checked the file at its start and reports write failures itself.
  const dbProblem = api.ok ? undefined : databaseProblem(m.fs.local(paths.db));
  const serviceFiles = manager === "supervisor" ? [] : machinePlatform(m).serviceFiles(ctx).map((f) => {
    const change = m.fs.compare(f);
    return {
      path: f.path,
      state: change === "created"
        ? "missing" as const
        : change === "changed"
        ? "differs" as const
        : "current" as const,
    };
  });
  return {
    state,
    corrupt: read.corrupt?.reason,
    installed: state !== undefined || recorded !== undefined,
    mode,
    manager,
    ports,
    edgeUp,
    interceptUp,
    api,
    supervisor,
    pids: { edge: livePid(m.fs.local(paths.run), "edge"), daemon: livePid(m.fs.local(paths.run), "daemon") },
    daemonFailure: readDaemonFailure(m.fs.local(paths.run)),
    edge: runningEdge(m.fs.local(paths.run), edgeUp),
    ca,
    configIgnored: loaded.ignored,
    homeUnwritable: folderUnwritable(m.fs.local(paths.home)),
    database: dbProblem && { problem: dbProblem.message, next: dbProblem.hint },
    serviceFiles,
    ctx,
  };
}

/** The running edge's own account, when the edge that wrote it still runs. */
function runningEdge(run: string, edgeUp: boolean): EdgeState | undefined {
  const state = readEdgeState(edgeStateFile(run));
  return edgeUp && state && processAlive(state.pid) ? state : undefined;
}
