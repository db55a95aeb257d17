/**
 * Where every file of Halton Meter lives (README.md, "Files"). A pure function of the environment and the OS,
 * so tests point everything at a temp folder with `HALTON_METER_HOME` and never touch the real home.
 *
 * @module
 */
import * as posix from "node:path/posix";
import * as win32 from "node:path/win32";
import { MeterError } from "./errors.ts";

/** The operating systems Halton Meter supports. */
export type OsName = "darwin" | "linux" | "windows";

/** Every path the program reads or writes. */
export interface Paths {
  /** `~/.halton-meter`, `%USERPROFILE%\.halton-meter`, or `HALTON_METER_HOME`. */
  readonly home: string;
  /** The user's own home folder (for rc files, service folders). */
  readonly userHome: string;
  readonly db: string;
  readonly config: string;
  readonly effectivePorts: string;
  readonly systemState: string;
  readonly installMode: string;
  readonly logs: string;
  readonly caBundle: string;
  readonly run: string;
  /** Folder of the CA, shared with the original: `~/.mitmproxy`. */
  readonly caDir: string;
  /** Key and certificate in one PEM, mode 0600. */
  readonly caKeyAndCert: string;
  /** Certificate alone, for trust stores and `NODE_EXTRA_CA_CERTS`. */
  readonly caCert: string;
}

/** The environment variables {@linkcode resolvePaths} reads. */
export type PathEnv = Readonly<Record<string, string | undefined>>;

/**
 * Resolves every path from the environment.
 *
 * `HALTON_METER_HOME` moves the meter's folder; when it is set the CA moves with it (to
 * `$HALTON_METER_HOME/.mitmproxy`) unless `HALTON_METER_CA_DIR` says otherwise, so that a test or a second
 * instance never reads or writes the CA of the real home.
 *
 * @throws {MeterError} when neither `HALTON_METER_HOME` nor the user's home folder is set.
 */
export function resolvePaths(env: PathEnv, os: OsName): Paths {
  const path = os === "windows" ? win32 : posix;
  const userHome = os === "windows" ? env.USERPROFILE ?? env.HOME : env.HOME;
  const override = env.HALTON_METER_HOME;
  if (!override && !userHome) {
    // A service or cron job can start us without a home: say which variable to set, not a stack trace.
    throw new MeterError(
      `${os === "windows" ? "USERPROFILE" : "HOME"} is not set, so the meter's folder is unknown`,
      {
        hint: "Set HALTON_METER_HOME to the folder Halton Meter should use.",
      },
    );
  }
  const home = path.resolve(override ?? path.join(userHome!, ".halton-meter"));
  const caDir = path.resolve(
    env.HALTON_METER_CA_DIR ??
      (override ? path.join(home, ".mitmproxy") : path.join(userHome!, ".mitmproxy")),
  );
  return {
    home,
    userHome: userHome ? path.resolve(userHome) : home,
    db: path.join(home, "db.sqlite"),
    config: path.join(home, "config.toml"),
    effectivePorts: path.join(home, "effective-ports.json"),
    systemState: path.join(home, "system_state.json"),
    installMode: path.join(home, "install-mode"),
    logs: path.join(home, "logs"),
    caBundle: path.join(home, "ca-bundle.pem"),
    run: path.join(home, "run"),
    caDir,
    caKeyAndCert: path.join(caDir, "mitmproxy-ca.pem"),
    caCert: path.join(caDir, "mitmproxy-ca-cert.pem"),
  };
}

/** The OS this process runs on, as {@linkcode OsName}. */
export function currentOs(): OsName {
  const os = Deno.build.os;
  return os === "darwin" || os === "windows" ? os : "linux";
}

/** The paths of this process, from its own environment. */
export function defaultPaths(): Paths {
  return resolvePaths(Deno.env.toObject(), currentOs());
}

/**
 * Checks that the meter's folder can be used: missing is fine (it is made when needed), a file or a folder
 * this user cannot read is not.
 *
 * @throws {MeterError} naming the path and what to do.
 */
export function assertUsableHome(home: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(home);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw new MeterError(`${home} (the meter's folder) cannot be read: ${(e as Error).message}`, {
      hint: "Give this user access to it, or point HALTON_METER_HOME at a folder of its own.",
    });
  }
  if (!info.isDirectory) {
    throw new MeterError(`${home} (the meter's folder) is a file, not a folder`, {
      hint: "Move that file aside, or point HALTON_METER_HOME at a folder.",
    });
  }
  try {
    for (const _ of Deno.readDirSync(home)) break;
  } catch (e) {
    throw new MeterError(`${home} (the meter's folder) cannot be read: ${(e as Error).message}`, {
      hint: "Give this user access to it (it should be owned by this user, mode 700).",
    });
  }
}
