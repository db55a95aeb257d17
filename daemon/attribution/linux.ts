/**
 * Client-process lookup on Linux: the kernel's `sock_diag` answer (or, where that cannot be asked,
 * `/proc/net/tcp{,6}`) gives the inode of the socket whose local address is the client's, a scan of
 * `/proc/<pid>/fd` links finds the process holding `socket:[inode]`, and `/proc/<pid>/{status,cmdline,environ,
 * cwd,exe}` describe it.
 *
 * @module
 */
import { join } from "node:path";
import { ipKey } from "./ip.ts";
import type { SocketQuery } from "./sock_diag.ts";
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

const READ_CHUNK = 64 * 1024;

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

/**
 * Parses the text of `/proc/net/tcp` or `/proc/net/tcp6`; malformed lines are skipped. With `localPorts`,
 * only the lines of sockets on those local ports: a busy machine's table has thousands of lines, and a lookup
 * wants a few.
 */
export function parseProcNetTcp(text: string, localPorts?: ReadonlySet<number>): ProcNetEntry[] {
  const out: ProcNetEntry[] = [];
  for (const line of text.split("\n")) {
    if (localPorts && !localPorts.has(localPortOf(line))) continue;
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

/** The local port of a table line, read without splitting it (the 4 hex digits after the first `:` of the address). */
function localPortOf(line: string): number {
  const address = line.indexOf(": ");
  const colon = address === -1 ? -1 : line.indexOf(":", address + 2);
  return colon === -1 ? -1 : parseInt(line.slice(colon + 1, colon + 5), 16);
}

/** The key of a socket's local end, as {@linkcode socketsAt} matches it. */
export function socketKey(address: ClientAddress): string {
  return `${ipKey(address.ip)}|${address.port}`;
}

/**
 * The connected sockets whose local ends have the {@linkcode socketKey}s in `keys` (never a listener, never
 * one no process holds), by key: inode and owner. One local port can be in use by several sockets at once
 * (one per remote end), so a socket connected to one of `peerPorts` (the edge's, the intercept port) wins
 * over another program's connection elsewhere; otherwise the first table entry for a key wins.
 */
export function socketsAt(
  entries: readonly ProcNetEntry[],
  keys: ReadonlySet<string>,
  peerPorts?: ReadonlySet<number>,
): Map<string, { inode: number; uid: number }> {
  const out = new Map<string, { inode: number; uid: number }>();
  const toPeer = new Set<string>();
  for (const e of entries) {
    const key = `${e.localKey}|${e.localPort}`;
    if (e.state === LISTEN || e.inode <= 0 || !keys.has(key) || toPeer.has(key)) continue;
    const atPeer = peerPorts?.has(e.remotePort) ?? false;
    if (atPeer || !out.has(key)) out.set(key, { inode: e.inode, uid: e.uid });
    if (atPeer) toPeer.add(key);
  }
  return out;
}

/**
 * True once `entries` hold, for every key of `keys`, the socket {@linkcode socketsAt} settles on for good: one
 * connected to one of `peerPorts` (without peer ports, the first connected one). A table read can stop there.
 */
export function allSettled(
  entries: readonly ProcNetEntry[],
  keys: ReadonlySet<string>,
  peerPorts?: ReadonlySet<number>,
): boolean {
  const settled = new Set<string>();
  for (const e of entries) {
    if (e.state === LISTEN || e.inode <= 0 || (peerPorts?.size && !peerPorts.has(e.remotePort))) continue;
    const key = `${e.localKey}|${e.localPort}`;
    if (keys.has(key)) settled.add(key);
  }
  return settled.size === keys.size;
}

/** The connected socket whose local end is `address`: its inode and owner. */
export function findSocket(
  entries: readonly ProcNetEntry[],
  address: ClientAddress,
  peerPorts?: ReadonlySet<number>,
): { inode: number; uid: number } | undefined {
  const key = socketKey(address);
  return socketsAt(entries, new Set([key]), peerPorts).get(key);
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
  /** Told the size of each batch of lookups one scan serves (for the heartbeat and tests). */
  onScan?: (lookups: number) => void;
  /**
   * The ports a client's socket may be connected to (the edge's and the intercept port): a socket on the
   * client's local port that is connected anywhere else belongs to another program.
   */
  peerPorts?: readonly number[];
  /**
   * Asks the kernel for one socket by its addresses ({@linkcode sockDiagQuery}); without it, or where it
   * cannot answer, the socket tables are read.
   */
  socketQuery?: SocketQuery;
}

/** The address the edge and the intercept port listen on, and so the remote end of every client socket. */
const PEER_HOST = "127.0.0.1";

/** The Linux {@linkcode ProcessLookup}, over procfs. */
export function linuxLookup(options: LinuxLookupOptions = {}): ProcessLookup {
  const proc = options.proc ?? "/proc";
  const owners = new SocketOwners(
    proc,
    options.onScan,
    new Set(options.peerPorts ?? []),
    options.socketQuery,
  );
  return {
    findClientProcess: (address) => owners.find(address),
    async readProcess(pid) {
      const dir = join(proc, String(pid));
      const cwd = readLinkSync(join(dir, "cwd"));
      const exe = readLinkSync(join(dir, "exe"));
      // At once: a short-lived client may exit while they are read.
      const [status, cmdline, environ] = await Promise.all(
        ["status", "cmdline", "environ"].map((f) => readText(join(dir, f))),
      );
      if (status === undefined) return undefined;
      const { ppid, uid, name } = parseProcStatus(status);
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

/**
 * Scans that may run at once. One would make a lookup wait for the scan before it, and a client that exits
 * right after its call could be gone by its turn; a few keep the wait short while bounding the work.
 */
const MAX_SCANS = 4;

/**
 * Descriptor links read between two turns of the event loop during a scan (about 2 ms of work on a slow
 * procfs), so that a scan over thousands of descriptors never holds up the connections being served.
 */
const LINKS_PER_TURN = 256;

/**
 * Descriptor links read between two questions to the kernel whether the sockets a scan still looks for are
 * there (one `sock_diag` request each).
 */
const LINKS_PER_ASK = 64;

/** Socket inodes remembered with their holder; beyond it the memory starts again from the next scan. */
const MAX_KNOWN_INODES = 65_536;

/** How many of the pids made last a scan reads before listing `/proc`. */
const LAST_PIDS = 4;

/**
 * The most descriptors a pid made last may hold to be read before listing `/proc`: a new client holds a few
 * (a `curl` about eight), the meter's own processes hundreds under load.
 */
const MAX_GUESSED_FDS = 64;

/** How many processes that held client sockets lately a scan reads before listing `/proc`. */
const RECENT_HOLDERS = 8;

/**
 * Finds the processes behind client sockets in batches. A lookup starts a scan at once unless
 * {@linkcode MAX_SCANS} are running; then it waits for the next free one, and one scan serves every lookup
 * waiting: the kernel's answer for each wanted socket (or, where it cannot be asked, one read of
 * `/proc/net/tcp{,6}`, as far down as the wanted sockets), then (only for sockets not already known) one pass
 * over the owners' fd folders that notes the holder of every socket it meets. The pass is linear in descriptors
 * per scan, not per lookup: 2,000 connections at once cost a few scans.
 */
class SocketOwners {
  readonly #proc: string;
  readonly #onScan?: (lookups: number) => void;
  readonly #peerPorts: ReadonlySet<number>;
  readonly #query?: SocketQuery;
  /** Lookups waiting for a scan, by {@linkcode socketKey}. */
  #pending = new Map<string, { address: ClientAddress; waiting: ((pid: number | undefined) => void)[] }>();
  #running = 0;
  /** Socket inode → the process holding it and that process's owner. */
  #known = new Map<number, { pid: number; uid: number }>();
  /** The processes the last pass over the fd folders saw. */
  #listed = new Set<number>();
  /** The processes that held the last client sockets found, most recent first. */
  #holders: number[] = [];

  constructor(
    proc: string,
    onScan: ((lookups: number) => void) | undefined,
    peerPorts: ReadonlySet<number>,
    query: SocketQuery | undefined,
  ) {
    this.#proc = proc;
    this.#onScan = onScan;
    this.#peerPorts = peerPorts;
    this.#query = query;
  }

  find(address: ClientAddress): Promise<number | undefined> {
    const key = socketKey(address);
    return new Promise((resolve) => {
      const pending = this.#pending.get(key);
      if (pending) pending.waiting.push(resolve);
      else this.#pending.set(key, { address, waiting: [resolve] });
      if (this.#running < MAX_SCANS) {
        this.#running++;
        // After the caller's turn, so that the lookups of one turn share a scan. The CONNECT's answer is queued
        // by then but leaves only once the scan's synchronous reading is done (docs/speed.md).
        queueMicrotask(() => this.#run());
      }
    });
  }

  async #run(): Promise<void> {
    try {
      while (this.#pending.size) {
        const batch = this.#pending;
        this.#pending = new Map();
        this.#onScan?.([...batch.values()].reduce((n, p) => n + p.waiting.length, 0));
        let found = new Map<string, number>();
        try {
          found = await this.#scan(new Map([...batch].map(([key, p]) => [key, p.address])));
        } catch { /* procfs unreadable: every lookup of the batch falls through to a later layer */ }
        for (const [key, { waiting }] of batch) for (const resolve of waiting) resolve(found.get(key));
      }
    } finally {
      this.#running--;
    }
  }

  /** The pid behind each socket of `wanted` (addresses by {@linkcode socketKey}) that can be found. */
  async #scan(wanted: Map<string, ClientAddress>): Promise<Map<string, number>> {
    const sockets = new Map<string, { inode: number; uid: number }>();
    const unasked = new Set<string>();
    for (const [key, address] of wanted) {
      const answer = this.#askKernel(address);
      if (answer === undefined) unasked.add(key);
      else if (answer) sockets.set(key, answer);
    }
    // The kernel prints a socket table a page at a time, and a busy machine can move a socket out of the page
    // being printed: a key not found in one reading gets a second. IPv6 sockets (dual-stack clients of a
    // 127.0.0.1 listener among them) only when IPv4 left some unfound, as a reading that misses walks them all.
    for (let reading = 0; reading < 2; reading++) {
      for (const table of ["tcp", "tcp6"]) {
        const left = new Set([...unasked].filter((k) => !sockets.has(k)));
        if (left.size === 0) break;
        const ports = new Set([...left].map((k) => Number(k.slice(k.lastIndexOf("|") + 1))));
        const entries: ProcNetEntry[] = [];
        readTableSync(join(this.#proc, "net", table), (lines) => {
          for (const e of parseProcNetTcp(lines, ports)) entries.push(e);
          return allSettled(entries, left, this.#peerPorts);
        });
        for (const [k, v] of socketsAt(entries, left, this.#peerPorts)) {
          sockets.set(k, v);
        }
      }
    }
    const holder = (s: { inode: number; uid: number }) => {
      const k = this.#known.get(s.inode);
      return k && k.uid === s.uid ? k.pid : undefined;
    };
    const unknown = [...sockets].filter(([, s]) => holder(s) === undefined)
      .map(([key, s]) => ({ ...s, address: wanted.get(key)! }));
    if (unknown.length) await this.#scanFds(unknown);
    const out = new Map<string, number>();
    for (const [key, s] of sockets) {
      const pid = holder(s);
      if (pid === undefined) continue;
      out.set(key, pid);
      this.#heldBy(pid);
    }
    return out;
  }

  /**
   * Drops from `missing` (inode → client address) the sockets the kernel says are no longer there, or are
   * another socket now: a client that closes its socket during a scan (one that gives up right after its
   * `CONNECT` is answered) is in no process's fd folder, and looking for it would read every process of its
   * owner. Where the kernel cannot be asked, every socket stays.
   */
  #forgetClosed(missing: Map<number, ClientAddress>): void {
    for (const [inode, address] of missing) {
      const now = this.#askKernel(address);
      if (now === null || (now && now.inode !== inode)) missing.delete(inode);
    }
  }

  /**
   * The kernel's answer for the socket from `address` to the edge or the intercept port: the socket, `null`
   * when the kernel holds no such socket connected (gone, or only in TIME_WAIT), undefined when it cannot be
   * asked (then the tables are read).
   */
  #askKernel(address: ClientAddress): { inode: number; uid: number } | null | undefined {
    if (!this.#query || this.#peerPorts.size === 0) return undefined;
    for (const port of this.#peerPorts) {
      const s = this.#query(address, { ip: PEER_HOST, port });
      if (s === undefined) return undefined;
      if (s && s.inode > 0 && s.state !== LISTEN) return { inode: s.inode, uid: s.uid };
    }
    return null;
  }

  /**
   * Notes the holder of every socket in the fd folders of the wanted sockets' owners until every wanted inode
   * is found: first the {@linkcode likelyHolders}, without listing `/proc` (a listing alone costs about 0.3 ms
   * on a small VM, and a pass over a desktop's processes far more), then the others in {@linkcode scanOrder}.
   * Only the owners' processes are read (the others' fd folders are unreadable anyway).
   */
  async #scanFds(wanted: { inode: number; uid: number; address: ClientAddress }[]): Promise<void> {
    const missing = new Map(wanted.map((s) => [s.inode, s.address]));
    const uids = new Set(wanted.map((s) => s.uid));
    if (this.#known.size > MAX_KNOWN_INODES) this.#known.clear();
    /** Pids read already: the rest of `/proc` follows the likely ones without them. */
    const read = new Set<number>();
    let sinceYield = 0;
    let sinceAsked = 0;
    for (const { pid, guessed } of this.#order(likelyHolders(this.#holders, lastPid(this.#proc)), read)) {
      const dir = join(this.#proc, String(pid));
      try {
        const uid = Deno.statSync(dir).uid;
        if (uid === null || !uids.has(uid)) continue;
        // A pid made last may be a thread's (its process's fd folder) or a process that is no new client: one of
        // the meter's own threads, whose every socket would be read. Such a one waits for its turn in the list.
        // Since Linux 6.2 procfs gives the folder's number of descriptors as its size, before it is read.
        if (guessed && this.#proc === "/proc" && Deno.statSync(join(dir, "fd")).size > MAX_GUESSED_FDS) {
          continue;
        }
        const fds = [...Deno.readDirSync(join(dir, "fd"))];
        if (guessed && fds.length > MAX_GUESSED_FDS) continue;
        read.add(pid);
        let holder = guessed ? undefined : pid;
        for (const fd of fds) {
          sinceYield++;
          sinceAsked++;
          const inode = /^socket:\[(\d+)\]$/.exec(readLinkSync(join(dir, "fd", fd.name)) ?? "")?.[1];
          if (inode === undefined) continue;
          holder ??= processOf(dir, pid);
          this.#known.set(Number(inode), { pid: holder, uid });
          missing.delete(Number(inode));
        }
      } catch {
        // Gone or not ours: keep looking, and not there first next time.
        this.#holders = this.#holders.filter((h) => h !== pid);
      }
      if (sinceAsked >= LINKS_PER_ASK) {
        sinceAsked = 0;
        this.#forgetClosed(missing);
      }
      if (missing.size === 0) return;
      if (sinceYield >= LINKS_PER_TURN) {
        sinceYield = 0;
        await new Promise((r) => setTimeout(r, 0));
      }
    }
  }

  /**
   * `likely`, then the other processes of `/proc` not `read` by then, in {@linkcode scanOrder}: listed only if
   * the scan gets there. `guessed` marks the likely pids taken for being made last, not for having held a
   * client socket.
   */
  *#order(
    likely: readonly number[],
    read: ReadonlySet<number>,
  ): Generator<{ pid: number; guessed: boolean }> {
    for (const pid of likely) yield { pid, guessed: !this.#holders.includes(pid) };
    const listed: number[] = [];
    for (const e of Deno.readDirSync(this.#proc)) if (/^\d+$/.test(e.name)) listed.push(Number(e.name));
    const pids = scanOrder(listed, this.#listed);
    this.#listed = new Set(listed);
    for (const pid of pids) if (!read.has(pid)) yield { pid, guessed: false };
  }

  /** Notes `pid` as the latest holder of a client socket, read first by the next scans. */
  #heldBy(pid: number): void {
    if (this.#holders[0] === pid) return;
    this.#holders = [pid, ...this.#holders.filter((h) => h !== pid)].slice(0, RECENT_HOLDERS);
  }
}

/**
 * The processes a scan reads before listing `/proc`: the pids made last (`lastPid` and the few before it, as
 * `ns_last_pid` says: a new connection mostly comes from a new process, a `curl` per call) and the processes
 * that held the last client sockets, most recent first (a long-running agent opening another connection, which
 * the full order would reach only after every newer process of the user).
 */
export function likelyHolders(recent: readonly number[], lastPid: number | undefined): number[] {
  const made: number[] = [];
  for (let pid = lastPid ?? 0; pid > 0 && made.length < LAST_PIDS; pid--) made.push(pid);
  return [...new Set([...made, ...recent])];
}

/** The last pid the kernel gave out in this pid namespace; undefined where procfs does not say. */
function lastPid(proc: string): number | undefined {
  try {
    const pid = Number(Deno.readTextFileSync(join(proc, "sys", "kernel", "ns_last_pid")));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The process of task `pid` (procfs folder `dir`): itself when it leads its thread group, else that group's
 * leader, which the kernel lists first in `task/`.
 */
function processOf(dir: string, pid: number): number {
  try {
    for (const t of Deno.readDirSync(join(dir, "task"))) {
      const leader = Number(t.name);
      return Number.isInteger(leader) && leader > 0 ? leader : pid;
    }
  } catch { /* gone meanwhile: its sockets are noted under the pid asked */ }
  return pid;
}

/**
 * The order in which a scan reads processes: those that appeared since the last scan first (a new connection
 * mostly comes from a new process, e.g. a `curl` per call), then the others, each group highest pid first.
 * Pids alone are not enough: once they wrap around, the newest process can have the lowest.
 */
export function scanOrder(pids: readonly number[], seenBefore: ReadonlySet<number>): number[] {
  const fresh = pids.filter((p) => !seenBefore.has(p)).sort((a, b) => b - a);
  const old = pids.filter((p) => seenBefore.has(p)).sort((a, b) => b - a);
  return [...fresh, ...old];
}

/**
 * Reads a procfs file in one asynchronous operation (open, read to the end and close on one of Deno's
 * blocking threads): an open and a loop of reads cost a round trip to that pool each, about twice the CPU
 * (260 against 520 µs for a process's `status`, `cmdline` and `environ` here).
 */
async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

/**
 * Links under `/proc` are read synchronously: an asynchronous op costs several times the read itself there
 * (40 µs against 8 µs on a gVisor sandbox), and a link, unlike `cmdline` or `environ`, never waits for the
 * target's memory lock, so it cannot stall the daemon.
 */
function readLinkSync(path: string): string | undefined {
  try {
    return Deno.readLinkSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Reads a socket table synchronously, handing `take` its complete lines as they come, and stops as soon as
 * `take` returns true. The kernel prints the table while it is read (about 1.5 µs a socket, a page per read),
 * and the sockets a lookup wants lie on average halfway down it: the rest is never printed. Synchronously,
 * since an asynchronous reading took half as long again, and a short-lived client (a `curl` per call lives
 * about 10 ms through the meter) can exit before a slower lookup finds it; the kernel prints the table
 * without waiting on any process. An unreadable table gives no lines.
 */
export function readTableSync(path: string, take: (lines: string) => boolean): void {
  let file: Deno.FsFile | undefined;
  try {
    file = Deno.openSync(path, { read: true });
    const buf = new Uint8Array(READ_CHUNK);
    const decoder = new TextDecoder();
    let rest = "";
    for (let n = file.readSync(buf); n !== null; n = file.readSync(buf)) {
      const text = rest + decoder.decode(buf.subarray(0, n), { stream: true });
      const cut = text.lastIndexOf("\n") + 1;
      rest = text.slice(cut);
      if (take(text.slice(0, cut))) return;
    }
    take(rest + decoder.decode());
  } catch {
    /* unreadable, or gone while read: what was taken stands */
  } finally {
    file?.close();
  }
}
