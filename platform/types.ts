/**
 * The one interface of the platform layer (docs/platform.md) and the data it speaks in: a context describing
 * the machine being set up, files rendered as text, and plans of steps returned as data. Nothing here has a
 * side effect; `init`, `uninstall`, `status` and `doctor` run plans later through an injected runner.
 *
 * @module
 */
import type { OsName, Paths } from "../core/paths.ts";
import type { Ports } from "../core/ports.ts";
import type { Runner } from "./runner.ts";
import type { DaemonSlot } from "../core/lifecycle.ts";

export type { DaemonSlot };

/**
 * How far `init` reaches (README.md, "Modes of `init`"): `env` meters through `run` only; `apps` adds env
 * vars; `full` the proxy.
 */
export type InstallMode = "env" | "apps" | "full";

/** The two long-running services. `stop` touches only the daemon; the edge keeps the port. */
export type ServiceName = "daemon" | "edge";

/** Everything a renderer or a plan needs to know about the machine it targets. */
export interface PlatformContext {
  /** The binary's own command as an absolute argv (see `selfCommand()`); the subcommand is appended to it. */
  readonly command: readonly string[];
  /** The target OS's paths, with its separators (`resolvePaths(env, os)`). */
  readonly paths: Paths;
  readonly ports: Ports;
  readonly mode: InstallMode;
  /** Numeric user id: macOS addresses the user's launchd domain as `gui/<uid>`. */
  readonly uid: number;
  /** Login name as the OS spells it: `alice` on Unix, `DOMAIN\alice` on Windows. */
  readonly user: string;
  /** `HALTON_METER_HOME` when the user set it: every service must then be started with it too. */
  readonly meterHome?: string;
  /**
   * The daemon's current slot (`run/daemon.slot`): the one the service manager starts at login, and the one
   * `start`, `stop` and `restart` plans of the daemon act on. `a` when absent (the only one before slots).
   */
  readonly slot?: DaemonSlot;
}

/** One file as a renderer produced it; writing it is the caller's business (see `writeRendered()`). */
export interface RenderedFile {
  /** Absolute path on the target OS. */
  readonly path: string;
  readonly content: string;
  /** How the text becomes bytes: Task Scheduler reads its XML as UTF-16 LE with a byte-order mark. */
  readonly encoding: "utf-8" | "utf-16le";
  /** Unix permission bits; undefined leaves the default. */
  readonly mode?: number;
  /** What the file is for, one line, for `init --dry-run` and `status`. */
  readonly purpose: string;
  /** The service a service definition runs (both daemon slots say `daemon`); absent for other files. */
  readonly service?: ServiceName;
}

/** A condition on the file system checked just before a step runs. */
export interface StepCondition {
  /** Run only when this path does not exist. */
  readonly missing?: string;
  /** Run only when this path exists. */
  readonly exists?: string;
}

/** Run a program. `okCodes` lists exit codes that mean success (default `[0]`). */
export interface RunStep {
  readonly kind: "run";
  readonly cmd: string;
  readonly args: readonly string[];
  /** Why the step is there, shown by `--dry-run` and in failure messages. */
  readonly why: string;
  readonly okCodes?: readonly number[];
  /** A failure is reported as a warning and the plan goes on (e.g. `loginctl enable-linger` where not allowed). */
  readonly optional?: boolean;
  /** Shown to the user when the step fails, e.g. which package provides the program. */
  readonly hint?: string;
  readonly when?: StepCondition;
}

/** Create a folder and its parents. */
export interface MkdirStep {
  readonly kind: "mkdir";
  readonly path: string;
  readonly why: string;
}

/** Delete a file if it is there. */
export interface RemoveStep {
  readonly kind: "remove";
  readonly path: string;
  readonly why: string;
}

/** One step of a plan. */
export type Step = RunStep | MkdirStep | RemoveStep;

/** A sequence of steps, run in order by `runPlan()`. */
export type Plan = readonly Step[];

/** One environment variable a mode sets. */
export interface EnvVar {
  readonly name: string;
  readonly value: string;
}

/**
 * What the system proxy settings were before `init --full` changed them, so `uninstall` can put them back.
 * JSON-serialisable, for `system_state.json`; its `entries` mean something only to the platform that read it.
 */
export interface ProxySnapshot {
  readonly os: OsName;
  readonly entries: Readonly<Record<string, string>>;
}

/** A shell whose rc file gets the env block, and the file. */
export interface ShellRc {
  readonly shell: "bash" | "zsh" | "fish";
  readonly path: string;
}

/** Where the operating system's root certificates come from, for `ca-bundle.pem`. */
export type SystemRootsSource =
  /** The first of these PEM files that exists. */
  | { readonly kind: "file"; readonly candidates: readonly string[] }
  /** A command whose stdout is the roots as PEM. */
  | { readonly kind: "command"; readonly cmd: string; readonly args: readonly string[] };

/** Options of the trust plans. */
export interface TrustOptions {
  /** Absolute path of the CA certificate (PEM, certificate only). */
  readonly caCert: string;
  /** Also the OS-wide store (Linux only, and only with the user's consent). */
  readonly system?: boolean;
}

/** Options of the untrust plans. */
export interface UntrustOptions {
  /** SHA-1 fingerprint of the CA certificate, hex (see `certSha1()`): how keychains and stores name it. */
  readonly sha1: string;
  readonly caCert: string;
  readonly system?: boolean;
}

/**
 * One operating system's way of doing each thing `init` does. Every method is pure: it renders text or
 * returns a plan; the `probe…` methods only read, through the runner they are given.
 */
export interface Platform {
  readonly os: OsName;
  /** Service definitions: the edge and both daemon slots. */
  serviceFiles(ctx: PlatformContext): RenderedFile[];
  /** Files that carry the mode's env to GUI apps (Linux `environment.d`); empty when the OS uses commands. */
  envFiles(ctx: PlatformContext): RenderedFile[];
  /**
   * Variables a process of `service` is started with besides those it inherits, by its service definition
   * and by the supervisor (`start --detach`); `inherited` is the starter's own environment, for values merged with it.
   */
  serviceEnv(
    service: ServiceName,
    inherited: Readonly<Record<string, string | undefined>>,
  ): Record<string, string>;
  /**
   * Register services with the service manager and start them: all of them on a first install, the ones whose
   * files changed on a re-`init`. The daemon is the one of the current slot; the other slot is kept from
   * starting at login. Run it after writing {@linkcode Platform.serviceFiles}.
   */
  installServices(ctx: PlatformContext, names?: readonly ServiceName[]): Plan;
  /**
   * Make the service manager read rewritten definitions of `names` without stopping or starting anything: a
   * running edge must keep its port while its file is rewritten (upgrade), and uses the new file at its next
   * start.
   */
  registerServices(ctx: PlatformContext, names: readonly ServiceName[]): Plan;
  startServices(ctx: PlatformContext, names: readonly ServiceName[]): Plan;
  stopServices(ctx: PlatformContext, names: readonly ServiceName[]): Plan;
  restartServices(ctx: PlatformContext, names: readonly ServiceName[]): Plan;
  /** Stop every service (both daemon slots), deregister it and delete its files. */
  uninstallServices(ctx: PlatformContext): Plan;
  /**
   * Start the daemon of `slot` now, beside the one running in the other slot (the new daemon takes the ports
   * over and the old one drains), and start `slot` at login from now on. A planned restart.
   */
  startDaemonSlot(ctx: PlatformContext, slot: DaemonSlot): Plan;
  /**
   * No longer start the daemon of `slot` at login. A daemon still draining in it is left to finish; having
   * exited 0 it is not restarted (restart on failure only).
   */
  retireDaemonSlot(ctx: PlatformContext, slot: DaemonSlot): Plan;
  /** Make the user's browsers and tools trust the CA. */
  trustCa(ctx: PlatformContext, opts: TrustOptions): Plan;
  /** Remove the CA from the stores `trustCa` added it to. */
  untrustCa(ctx: PlatformContext, opts: UntrustOptions): Plan;
  /** Set the mode's variables for future GUI apps and terminals, outside the shell rc files; run it after writing {@linkcode Platform.envFiles}. */
  applyUserEnv(ctx: PlatformContext, vars: readonly EnvVar[]): Plan;
  /** Put each variable back to its recorded value (undefined: remove it) and delete the env files. */
  restoreUserEnv(ctx: PlatformContext, previous: Readonly<Record<string, string | undefined>>): Plan;
  /** The current user-level values of `names`, read before `applyUserEnv` so they can be restored. */
  probeUserEnv(runner: Runner, names: readonly string[]): Promise<Record<string, string | undefined>>;
  /** The system proxy settings as they are now. */
  probeSystemProxy(runner: Runner): Promise<ProxySnapshot>;
  /**
   * Whether the service manager is restarting the daemon of `slot` now rather than stopping it: asked by a
   * daemon on SIGTERM, so that a restart the manager does on its own overlaps like `restart`. Only systemd can
   * tell (the type of the unit's running job); launchd and Task Scheduler always read as a stop.
   */
  probeRestarting(runner: Runner, slot: DaemonSlot): Promise<boolean>;
  /** Point the system proxy at the edge (`--full`); `current` says which network services exist (macOS). */
  enableSystemProxy(ctx: PlatformContext, current: ProxySnapshot): Plan;
  /** Put the system proxy back as `previous` recorded it. */
  restoreSystemProxy(previous: ProxySnapshot): Plan;
  /** The rc files of the shells this OS commonly runs, under the user's home. */
  shellRcFiles(ctx: PlatformContext): ShellRc[];
  /** Where the OS's own root certificates can be read as PEM. */
  systemRoots(): SystemRootsSource;
}
