/**
 * Client-process lookup on Linux, from `/proc` alone: `/proc/net/tcp{,6}` gives the inode of the socket whose
 * local address is the client's, a scan of `/proc/<pid>/fd` links finds the process holding `socket:[inode]`,
 * and `/proc/<pid>/{status,cmdline,environ,cwd,exe}` describe it.
 *
 * The scan is the costly part (a readlink per open file of every process of the user), and every new client
 * connection asks for one: lookups that arrive together share one table read and one scan, the processes that
 * held client sockets lately are looked at first, and the links are read synchronously in short slices (one
 * asynchronous readlink cost ten times the CPU of the syscall itself).
 *
 * @module
 */
import { join } from "node:path";
import { setImmediate } from "node:timers";
import { ipKey } from "./ip.ts";
import type { ClientAddress, ProcessLookup } from "./types.ts";

/** One socket of `/proc/net/tcp` or `/proc/net/tcp6`. */
export interface ProcNetEntry {
  /** The local address as {@linkcode ipKey} writes it. */
  localKey: string;
  localPort: number;
  remoteKey: string;
  remotePort: number;
  /** Kernel TCP state: 0x01 established, 0x0A listen, … */
  state: number;
  uid: number;
  /** 0 for sockets no process holds any more (TIME_WAIT). */
  inode: number;
}

const LISTEN = 0x0a;

/**
 * The address key of a `/proc/net/tcp{,6}` address: 8 or 32 hex digits, the kernel's 32-bit words printed in
 * host byte order (little-endian on every platform Halton Meter ships for).
 */
export function procHexAddressKey(hex: string): string | undefined {
  if (!/^([0-9a-f]{8}){1,4}$/i.test(hex) || (hex.length !== 8 && hex.length !== 32)) return undefined;
  const bytes: string[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    for (let b = 6; b >= 0; b -= 2) bytes.push(hex.slice(w + b, w + b + 2).toLowerCase());
  }
  return hex.length === 8 ? "00000000000000000000ffff" + bytes.join("") : bytes.join("");
}

/** Parses the text of `/proc/net/tcp` or `/proc/net/tcp6`; malformed lines are skipped. */
export function parseProcNetTcp(text: string): ProcNetEntry[] {
  const out: ProcNetEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^\d+:$/.test(f[0])) continue;
    const [localHex, localPort] = f[1].split(":");
    const [remoteHex, remotePort] = f[2].split(":");
    const localKey = procHexAddressKey(localHex);
    const remoteKey = procHexAddressKey(remoteHex);
    if (!localKey || !remoteKey) continue;
    out.push({
      localKey,
      localPort: parseInt(localPort, 16),
      remoteKey,
      remotePort: parseInt(remotePort, 16),
      state: parseInt(f[3], 16),
      uid: Number(f[7]),
      inode: Number(f[9]),
    });
  }
  return out;
}

/**
 * {@linkcode findSocket} on the text of a table, without parsing the rest of it: a busy machine's table has
 * thousands of lines (TIME_WAIT sockets of short connections among them), and parsing them all for each new
 * connection cost more CPU than the connection itself. The kernel prints addresses in upper-case hex.
 */
export function findSocketInText(
  text: string,
  table: "tcp" | "tcp6",
  address: ClientAddress,
): { inode: number; uid: number } | undefined {
  const key = ipKey(address.ip);
  if (!key) return undefined;
  const v4 = key.startsWith("00000000000000000000ffff");
  if (table === "tcp" && !v4) return undefined;
  const words = table === "tcp" ? [key.slice(24)] : [0, 8, 16, 24].map((i) => key.slice(i, i + 8));
  const hex = words.map((w) => w.slice(6, 8) + w.slice(4, 6) + w.slice(2, 4) + w.slice(0, 2)).join("");
  const needle = `: ${hex.toUpperCase()}:${address.port.toString(16).toUpperCase().padStart(4, "0")} `;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
    const end = text.indexOf("\n", at);
    const [entry] = parseProcNetTcp(
      text.slice(text.lastIndexOf("\n", at) + 1, end === -1 ? text.length : end),
    );
    if (entry && entry.state !== LISTEN && entry.inode > 0) return { inode: entry.inode, uid: entry.uid };
  }
  return undefined;
}

/** The connected socket whose local end is `address`: its inode and owner. */
export function findSocket(
  entries: readonly ProcNetEntry[],
  address: ClientAddress,
): { inode: number; uid: number } | undefined {
  const key = ipKey(address.ip);
  const hit = entries.find((e) =>
    e.localKey === key && e.localPort === address.port && e.state !== LISTEN && e.inode > 0
  );
  return hit && { inode: hit.inode, uid: hit.uid };
}

/** The fields of `/proc/<pid>/status` the lookup uses: parent pid, real uid, and the short name. */
export function parseProcStatus(text: string): { ppid?: number; uid?: number; name?: string } {
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(text)?.[1];
  const ppid = Number(field("PPid"));
  const uid = Number(field("Uid")?.split(/\s+/)[0]);
  return {
    ppid: Number.isInteger(ppid) ? ppid : undefined,
    uid: Number.isInteger(uid) ? uid : undefined,
    name: field("Name"),
  };
}

/** Splits a NUL-separated `/proc` list (`cmdline`, `environ`). */
export function parseNulList(text: string): string[] {
  const items = text.split("\0");
  if (items.at(-1) === "") items.pop();
  return items;
}

/** Parses `/proc/<pid>/environ` into variables. */
export function parseEnviron(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of parseNulList(text)) {
    const eq = item.indexOf("=");
    if (eq > 0) env[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return env;
}

/** Options of {@linkcode linuxLookup}. */
export interface LinuxLookupOptions {
  /** Mount point of procfs. */
  proc?: string;
}

/** The Linux {@linkcode ProcessLookup}, over procfs. */
export function linuxLookup(options: LinuxLookupOptions = {}): ProcessLookup {
  const proc = options.proc ?? "/proc";
  const scan = new SocketOwnerScan(proc);
  return {
    findClientProcess: (address) => scan.find(address),
    async readProcess(pid) {
      const dir = join(proc, String(pid));
      const status = await readText(join(dir, "status"));
      if (status === undefined) return undefined;
      const { ppid, uid, name } = parseProcStatus(status);
      const [cmdline, environ, cwd, exe] = await Promise.all([
        readText(join(dir, "cmdline")),
        readText(join(dir, "environ")),
        readLink(join(dir, "cwd")),
        readLink(join(dir, "exe")),
      ]);
      const argv = parseNulList(cmdline ?? "");
      return {
        pid,
        ppid: ppid ?? 0,
        uid,
        cwd,
        argv,
        env: parseEnviron(environ ?? ""),
        exe: exe?.replace(/ \(deleted\)$/, "") ?? argv[0] ?? name,
        root: join(dir, "root"),
      };
    },
  };
}

/** A lookup waiting for its batch: the client's address, and the pid once found. */
interface Pending {
  address: ClientAddress;
  pid?: number;
  resolve(pid: number | undefined): void;
}

/** A socket some lookups wait for: its owner's uid and those lookups. */
interface Wanted {
  uid: number;
  pending: Pending[];
}

/** How many processes that held client sockets are remembered, to be looked at first. */
const RECENT_HOLDERS = 8;
/** Up to this many addresses are searched for in a table's text, one by one. */
const SEARCHES_PER_TABLE = 16;
/** fd links read before the event loop gets a turn: about a millisecond of syscalls. */
const LINKS_PER_SLICE = 256;

/**
 * Finds the processes behind client addresses in batches: the lookups that arrive while a batch runs form
 * the next one, which reads the socket tables once and scans the fd folders once for all of them.
 */
class SocketOwnerScan {
  readonly #proc: string;
  #queue: Pending[] = [];
  #running = false;
  /** Pids that held client sockets lately, most recent first. */
  #recent: number[] = [];

  constructor(proc: string) {
    this.#proc = proc;
  }

  find(address: ClientAddress): Promise<number | undefined> {
    return new Promise((resolve) => {
      this.#queue.push({ address, resolve });
      if (!this.#running) this.#run();
    });
  }

  async #run(): Promise<void> {
    this.#running = true;
    while (this.#queue.length) {
      const batch = this.#queue.splice(0);
      try {
        await this.#resolve(batch);
      } catch { /* what was not found stays undefined */ }
      for (const p of batch) p.resolve(p.pid);
    }
    this.#running = false;
  }

  async #resolve(batch: Pending[]): Promise<void> {
    const wanted = new Map<string, Wanted>();
    let left = batch;
    // IPv6 sockets (dual-stack clients of a 127.0.0.1 listener among them) only when IPv4 has no match:
    // each table read costs the kernel a walk of every socket.
    for (const table of ["tcp", "tcp6"] as const) {
      if (!left.length) break;
      const text = await readText(join(this.#proc, "net", table));
      if (text === undefined) continue;
      // A few addresses are searched for in the text; a big batch parses the table once.
      const entries = left.length > SEARCHES_PER_TABLE ? parseProcNetTcp(text) : undefined;
      const missing: Pending[] = [];
      for (const p of left) {
        const socket = entries ? findSocket(entries, p.address) : findSocketInText(text, table, p.address);
        if (!socket) {
          missing.push(p);
          continue;
        }
        const target = `socket:[${socket.inode}]`;
        const w = wanted.get(target) ?? { uid: socket.uid, pending: [] };
        w.pending.push(p);
        wanted.set(target, w);
      }
      left = missing;
    }
    if (wanted.size) await this.#scan(wanted);
  }

  /**
   * Reads fd links until every wanted socket has its pid. Only processes of a wanted socket's owner are
   * scanned (the others' fd folders are unreadable anyway): recent holders first, then the rest newest first,
   * since a client connection usually belongs to a recent process. The daemon itself is never the client.
   */
  async #scan(wanted: Map<string, Wanted>): Promise<void> {
    const uids = new Set([...wanted.values()].map((w) => w.uid));
    const pids: number[] = [];
    try {
      for (const e of Deno.readDirSync(this.#proc)) if (/^\d+$/.test(e.name)) pids.push(Number(e.name));
    } catch {
      return;
    }
    pids.sort((a, b) => b - a);
    const recent = this.#recent.filter((pid) => pids.includes(pid));
    const order = [...recent, ...pids.filter((pid) => !recent.includes(pid) && pid !== Deno.pid)];
    let links = 0;
    for (const pid of order) {
      const dir = join(this.#proc, String(pid));
      let uid: number | null;
      const fds: string[] = [];
      try {
        uid = Deno.statSync(dir).uid;
        if (uid === null || !uids.has(uid)) continue;
        for (const fd of Deno.readDirSync(join(dir, "fd"))) fds.push(fd.name);
      } catch {
        continue; // gone or not ours: keep looking
      }
      for (const fd of fds) {
        const link = readLinkSync(join(dir, "fd", fd)) ?? "";
        const w = wanted.get(link);
        if (w && w.uid === uid) {
          for (const p of w.pending) p.pid = pid;
          wanted.delete(link);
          this.#remember(pid);
          if (!wanted.size) return;
        }
        if (++links % LINKS_PER_SLICE === 0) await new Promise((r) => setImmediate(r));
      }
    }
  }

  #remember(pid: number): void {
    this.#recent = [pid, ...this.#recent.filter((p) => p !== pid)].slice(0, RECENT_HOLDERS);
  }
}

function readLinkSync(path: string): string | undefined {
  try {
    return Deno.readLinkSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Reads a procfs file whole in one operation: the kernel hands a seq file over a page per read call whatever the
 * buffer, and a JavaScript read per page cost more CPU than the reads themselves on a table of thousands of
 * sockets.
 */
async function readText(path: string): Promise<string | undefined> {
  try {
    return UTF8.decode(await Deno.readFile(path));
  } catch {
    return undefined;
  }
}

const UTF8 = new TextDecoder();

async function readLink(path: string): Promise<string | undefined> {
  try {
    return await Deno.readLink(path);
  } catch {
    return undefined;
  }
}
