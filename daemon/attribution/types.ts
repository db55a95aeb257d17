/**
 * The shapes the attribution chain works over: a client process as read from the OS, a read-only view of the
 * file system, and the per-OS lookup that turns a TCP source port into a process. Everything the layers see is
 * passed in, so each layer is tested with fake process tables and temp directory trees.
 *
 * @module
 */

/** One process as the OS reports it. Fields the OS will not tell us are left out rather than guessed. */
export interface ProcessInfo {
  pid: number;
  /** 0 when the process has no parent we can see. */
  ppid: number;
  /** Owner's numeric uid (Linux, macOS); unknown on Windows, where the parent walk then relies on its bound. */
  uid?: number;
  /** Working directory, when readable (not on Windows). */
  cwd?: string;
  argv: string[];
  /** Environment, when readable: Linux for processes of the same user; empty on macOS and Windows. */
  env: Record<string, string>;
  /** Full path of the executable, or its name when that is all the OS gives. */
  exe?: string;
  /** Where this process's own file system is visible from ours (Linux `/proc/<pid>/root`), for containers. */
  root?: string;
}

/** A read-only view of the file system. Implementations answer false/undefined instead of throwing. */
export interface FsView {
  /** True when something (file, folder, link) exists at `path`. */
  exists(path: string): Promise<boolean>;
  /** The text of a small file, undefined when missing, unreadable or too large. */
  readText(path: string): Promise<string | undefined>;
}

/** The address of a client's end of a TCP connection to the edge, as the edge saw it. */
export interface ClientAddress {
  ip: string;
  port: number;
}

/** Finds and reads client processes; one implementation per OS, chosen once. Never throws. */
export interface ProcessLookup {
  /** The pid owning the socket whose local address is `address`, if it can be found. */
  findClientProcess(address: ClientAddress): Promise<number | undefined>;
  /** The process `pid`, or undefined when it is gone or cannot be read. */
  readProcess(pid: number): Promise<ProcessInfo | undefined>;
}

/** Runs an external command and returns its exit code and standard output. Never throws. */
export type CommandRunner = (cmd: string, args: string[]) => Promise<{ code: number; stdout: string }>;

/**
 * The resolver layers (README.md, "Attribution"), in order; the winner is stored as the row's
 * `attribution_layer`.
 */
export const LAYERS = [
  "explicit",
  "env",
  "haltonrc",
  "ide",
  "git",
  "parent",
  "container",
  "cwd",
  "default",
] as const;

/** One of {@linkcode LAYERS}. */
export type Layer = typeof LAYERS[number];

/** What attribution decided for one client connection. */
export interface Attribution {
  project: string;
  layer: Layer;
  /** Basename of the client's executable (`node`, `python3`), never its arguments or environment. */
  client_process: string | null;
}
