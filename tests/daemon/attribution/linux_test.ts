import assert from "node:assert/strict";
import { join } from "node:path";
import {
  allSettled,
  findSocket,
  likelyHolders,
  linuxLookup,
  parseEnviron,
  parseNulList,
  parseProcNetTcp,
  parseProcStatus,
  procHexAddressKey,
  readTableSync,
  scanOrder,
} from "../../../daemon/attribution/linux.ts";
import { Attributor } from "../../../daemon/attribution/attributor.ts";
import { ipKey } from "../../../daemon/attribution/ip.ts";
import type { SocketQuery } from "../../../daemon/attribution/sock_diag.ts";

const FIXTURES = new URL("../../fixtures/attribution/", import.meta.url);
const fixture = (name: string) => Deno.readTextFileSync(new URL(name, FIXTURES));
const onLinux = { ignore: Deno.build.os !== "linux" };
type SocketAnswer = ReturnType<SocketQuery>;

Deno.test("procHexAddressKey() reads the kernel's little-endian words for IPv4 and IPv6", () => {
  assert.equal(procHexAddressKey("0100007F"), ipKey("127.0.0.1"));
  assert.equal(procHexAddressKey("00000000000000000000000001000000"), ipKey("::1"));
  assert.equal(procHexAddressKey("0000000000000000FFFF00000100007F"), ipKey("127.0.0.1"));
  assert.equal(procHexAddressKey("B80D0120000000000000000002000000"), ipKey("2001:db8::2"));
  assert.equal(procHexAddressKey("0100007"), undefined);
  assert.equal(procHexAddressKey("0100007F0100007F"), undefined);
});

Deno.test("parseProcNetTcp() reads every socket of a captured /proc/net/tcp", () => {
  const entries = parseProcNetTcp(fixture("linux_proc_net_tcp.txt"));
  assert.equal(entries.length, 13);
  const client = entries.find((e) => e.inode === 11495)!;
  assert.deepEqual(client, {
    localKey: ipKey("127.0.0.1"),
    localPort: 35062,
    remoteKey: ipKey("127.0.0.1"),
    remotePort: 34185,
    state: 1,
    uid: 0,
    inode: 11495,
  });
});

Deno.test("parseProcNetTcp() with local ports reads only those sockets, IPv4 and IPv6 alike", () => {
  const all = parseProcNetTcp(fixture("linux_proc_net_tcp.txt"));
  const some = parseProcNetTcp(fixture("linux_proc_net_tcp.txt"), new Set([35062, 34185]));
  assert.deepEqual(some, all.filter((e) => e.localPort === 35062 || e.localPort === 34185));
  assert.ok(some.length >= 2 && some.length < all.length);
  const v6 = parseProcNetTcp(fixture("linux_proc_net_tcp6.txt"));
  const port = v6[0].localPort;
  assert.deepEqual(
    parseProcNetTcp(fixture("linux_proc_net_tcp6.txt"), new Set([port])),
    v6.filter((e) => e.localPort === port),
  );
});

Deno.test("findSocket() picks the client's end, not the listener nor the accepted end", () => {
  const v4 = parseProcNetTcp(fixture("linux_proc_net_tcp.txt"));
  assert.deepEqual(findSocket(v4, { ip: "127.0.0.1", port: 35062 }), { inode: 11495, uid: 0 });
  assert.deepEqual(findSocket(v4, { ip: "127.0.0.1", port: 34185 }), { inode: 11496, uid: 0 });
  assert.equal(findSocket(v4, { ip: "127.0.0.1", port: 1 }), undefined);
  const v6 = parseProcNetTcp(fixture("linux_proc_net_tcp6.txt"));
  assert.deepEqual(findSocket(v6, { ip: "::1", port: 44202 }), { inode: 11705, uid: 0 });
  assert.deepEqual(findSocket(v6, { ip: "127.0.0.1", port: 43388 }), { inode: 11707, uid: 0 });
  assert.deepEqual(findSocket(v6, { ip: "::ffff:127.0.0.1", port: 43388 }), { inode: 11707, uid: 0 });
});

Deno.test("parseProcStatus() reads the parent, the real uid and the name", () => {
  const text = fixture("linux_proc_status.txt");
  const ppid = Number(/^PPid:\s+(\d+)/m.exec(text)![1]);
  const uid = Number(/^Uid:\s+(\d+)/m.exec(text)![1]);
  assert.deepEqual(parseProcStatus(text), { ppid, uid, name: "cat" });
  assert.deepEqual(parseProcStatus("Name:\tx\nPPid:\t12\nUid:\t1000\t0\t0\t0\n"), {
    ppid: 12,
    uid: 1000,
    name: "x",
  });
});

Deno.test("parseNulList() and parseEnviron() split NUL-separated lists", () => {
  assert.deepEqual(parseNulList("node\0app.js\0--flag=a b\0"), ["node", "app.js", "--flag=a b"]);
  assert.deepEqual(parseNulList(""), []);
  assert.deepEqual(parseEnviron("A=1\0HALTON_PROJECT=acme\0EQ=x=y\0junk\0"), {
    A: "1",
    HALTON_PROJECT: "acme",
    EQ: "x=y",
  });
});

/** Starts a child that connects to `port` from `cwd` with HALTON_PROJECT set and waits for stdin to close. */
function connectingChild(port: number, cwd: string): Deno.ChildProcess {
  const code = `const c = await Deno.connect({ hostname: "127.0.0.1", port: ${port} });
console.log("connected");
for await (const _ of Deno.stdin.readable) { /* wait for the test to close stdin */ }
c.close();`;
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", code],
    cwd,
    env: { HALTON_PROJECT: "acme-live", NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

Deno.test(
  "linuxLookup() finds the real process behind a TCP connection, with its cwd and env",
  onLinux,
  async () => {
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "attr-linux-" }));
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const child = connectingChild(listener.addr.port, dir);
    const conn = await listener.accept();
    const reader = child.stdout.getReader();
    try {
      await reader.read();
      const peer = conn.remoteAddr as Deno.NetAddr;
      const lookup = linuxLookup();
      const pid = await lookup.findClientProcess({ ip: peer.hostname, port: peer.port });
      assert.equal(pid, child.pid);
      const info = await lookup.readProcess(pid!);
      assert.ok(info);
      assert.equal(info.ppid, Deno.pid);
      assert.equal(info.cwd, dir);
      assert.equal(info.env.HALTON_PROJECT, "acme-live");
      assert.equal(info.exe, Deno.execPath());
      assert.equal(info.argv[1], "eval");
      assert.equal(info.uid, Deno.uid());

      const attributor = new Attributor({ lookup });
      assert.deepEqual(await attributor.resolve({ ip: peer.hostname, port: peer.port }), {
        project: "acme-live",
        layer: "env",
        client_process: "deno",
      });
      assert.equal(await lookup.findClientProcess({ ip: "127.0.0.1", port: 1 }), undefined);
    } finally {
      reader.releaseLock();
      await child.stdin.close();
      await child.stdout.cancel();
      await child.status;
      conn.close();
      listener.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("linuxLookup().readProcess() answers undefined for a process that is gone", onLinux, async () => {
  const child = new Deno.Command("true").spawn();
  await child.status;
  assert.equal(await linuxLookup().readProcess(child.pid), undefined);
});

/** The captured table with every socket's owner set to `uid`. */
function tcpOwnedBy(uid: number): string {
  return fixture("linux_proc_net_tcp.txt").replace(/^(\s*\d+:(?:\s+\S+){6}\s+)\d+/gm, `$1${uid}`);
}

Deno.test("linuxLookup() scans only the socket owner's processes in a fake procfs tree", async () => {
  const proc = await Deno.makeTempDir({ prefix: "attr-proc-" });
  try {
    await Deno.mkdir(join(proc, "net"));
    await Deno.mkdir(join(proc, "7237", "fd"), { recursive: true });
    await Deno.mkdir(join(proc, "7240", "fd"), { recursive: true });
    await Deno.symlink("pipe:[5687]", join(proc, "7240", "fd", "1"));
    await Deno.symlink("/dev/null", join(proc, "7237", "fd", "0"));
    await Deno.symlink("socket:[11495]", join(proc, "7237", "fd", "5"));
    await Deno.symlink("/tmp", join(proc, "7237", "cwd"));
    await Deno.writeTextFile(
      join(proc, "7237", "status"),
      `Name:\tpython3\nPPid:\t7235\nUid:\t${Deno.uid()}\t0\t0\t0\n`,
    );
    await Deno.writeTextFile(join(proc, "7237", "cmdline"), "python3\0-c\0pass\0");
    const lookup = linuxLookup({ proc });
    await Deno.writeTextFile(join(proc, "net", "tcp"), tcpOwnedBy(Deno.uid()!));
    assert.equal(await lookup.findClientProcess({ ip: "127.0.0.1", port: 35062 }), 7237);
    assert.equal(await lookup.findClientProcess({ ip: "127.0.0.1", port: 34185 }), undefined);
    await Deno.writeTextFile(join(proc, "net", "tcp"), tcpOwnedBy(Deno.uid()! + 1));
    assert.equal(await lookup.findClientProcess({ ip: "127.0.0.1", port: 35062 }), undefined);
    assert.deepEqual(await lookup.readProcess(7237), {
      pid: 7237,
      ppid: 7235,
      uid: Deno.uid(),
      cwd: "/tmp",
      argv: ["python3", "-c", "pass"],
      env: {},
      exe: "python3",
      root: join(proc, "7237", "root"),
    });
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});

Deno.test("linuxLookup() takes the kernel's answer where it can be asked, the socket table where not", async () => {
  const proc = await Deno.makeTempDir({ prefix: "attr-proc-" });
  try {
    await Deno.mkdir(join(proc, "net"));
    await Deno.mkdir(join(proc, "7237", "fd"), { recursive: true });
    await Deno.symlink("socket:[11495]", join(proc, "7237", "fd", "5"));
    await Deno.symlink("socket:[22222]", join(proc, "7237", "fd", "6"));
    await Deno.writeTextFile(join(proc, "net", "tcp"), tcpOwnedBy(Deno.uid()!));
    const uid = Deno.uid()!;
    const lookupAnswering = (answer: (port: number) => SocketAnswer) =>
      linuxLookup({ proc, peerPorts: [8081], socketQuery: (local) => answer(local.port) });
    // The table lists 35062 as inode 11495; the kernel's answer wins where there is one.
    const kernel = lookupAnswering((port) => port === 35062 ? { inode: 22222, uid, state: 1 } : null);
    assert.equal(await kernel.findClientProcess({ ip: "127.0.0.1", port: 35062 }), 7237);
    const gone = lookupAnswering(() => null);
    assert.equal(await gone.findClientProcess({ ip: "127.0.0.1", port: 35062 }), undefined);
    const listener = lookupAnswering(() => ({ inode: 22222, uid, state: 0x0a }));
    assert.equal(await listener.findClientProcess({ ip: "127.0.0.1", port: 35062 }), undefined);
    const timeWait = lookupAnswering(() => ({ inode: 0, uid, state: 6 }));
    assert.equal(await timeWait.findClientProcess({ ip: "127.0.0.1", port: 35062 }), undefined);
    const refused = lookupAnswering(() => undefined);
    assert.equal(await refused.findClientProcess({ ip: "127.0.0.1", port: 35062 }), 7237);
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});

/**
 * Runs `fn` on a fake procfs tree with an empty socket table and, when given, `lastPid` as the kernel's
 * `ns_last_pid`; removes the tree after.
 */
async function withFakeProc(lastPid: number | undefined, fn: (proc: string) => Promise<void>): Promise<void> {
  const proc = await Deno.makeTempDir({ prefix: "attr-proc-" });
  try {
    await Deno.mkdir(join(proc, "net"));
    await Deno.writeTextFile(join(proc, "net", "tcp"), "");
    if (lastPid !== undefined) {
      await Deno.mkdir(join(proc, "sys", "kernel"), { recursive: true });
      await Deno.writeTextFile(join(proc, "sys", "kernel", "ns_last_pid"), `${lastPid}\n`);
    }
    await fn(proc);
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
}

/** Makes `/proc/<pid>/fd` in the fake tree `proc`, with `links` (descriptor → link text). */
async function fakeProcess(proc: string, pid: number, links: Record<string, string>): Promise<void> {
  await Deno.mkdir(join(proc, String(pid), "fd"), { recursive: true });
  for (const [fd, to] of Object.entries(links)) await Deno.symlink(to, join(proc, String(pid), "fd", fd));
}

Deno.test("likelyHolders() puts the pids made last first, then the last holders, once each", () => {
  assert.deepEqual(likelyHolders([300, 9050, 120], 9051), [9051, 9050, 9049, 9048, 300, 120]);
  assert.deepEqual(likelyHolders([300], undefined), [300], "no ns_last_pid: the holders alone");
  assert.deepEqual(likelyHolders([], 2), [2, 1]);
});

Deno.test("linuxLookup() reads the pids made last first, and names a thread's process", () =>
  withFakeProc(9060, async (proc) => {
    // 9059 is a thread of process 9040 (its resolver, say): the same descriptors, and the leader listed first in
    // its `task/`. The full order would read 9059 first as a process of its own.
    for (const pid of [9040, 9059]) {
      await fakeProcess(proc, pid, { "0": "/dev/null", "5": "socket:[55555]" });
      await Deno.mkdir(join(proc, String(pid), "task", "9040"), { recursive: true });
    }
    const uid = Deno.uid()!;
    const lookup = linuxLookup({
      proc,
      peerPorts: [8081],
      socketQuery: () => ({ inode: 55555, uid, state: 1 }),
    });
    assert.equal(await lookup.findClientProcess({ ip: "127.0.0.1", port: 35062 }), 9040);
  }));

Deno.test("linuxLookup() leaves a pid made last with many descriptors for later", () =>
  withFakeProc(9060, async (proc) => {
    // The newest pid holds 70 descriptors (one of the meter's own threads, say) and the one before it a few;
    // both hold the socket (inherited), so which was read first shows.
    const many: Record<string, string> = { "5": "socket:[66666]" };
    for (let fd = 6; fd < 75; fd++) many[String(fd)] = "/dev/null";
    await fakeProcess(proc, 9060, many);
    await fakeProcess(proc, 9059, { "0": "/dev/null", "5": "socket:[66666]" });
    for (const pid of [9059, 9060]) {
      await Deno.mkdir(join(proc, String(pid), "task", String(pid)), { recursive: true });
    }
    await Deno.symlink("socket:[77777]", join(proc, "9060", "fd", "75"));
    const uid = Deno.uid()!;
    let inode = 66666;
    const lookup = linuxLookup({ proc, peerPorts: [8081], socketQuery: () => ({ inode, uid, state: 1 }) });
    assert.equal(await lookup.findClientProcess({ ip: "127.0.0.1", port: 35062 }), 9059);
    // A socket only that process holds is still found, once `/proc` is listed.
    inode = 77777;
    assert.equal(await lookup.findClientProcess({ ip: "127.0.0.1", port: 35063 }), 9060);
  }));

Deno.test("linuxLookup() reads the process that held the last client socket before newer ones", () =>
  withFakeProc(undefined, async (proc) => {
    // A long-running client (pid 100) behind twenty newer processes of the same user. Its second socket,
    // opened after the first lookup, is shared with the newest of them (inherited, say), so which process the
    // second lookup read first shows.
    for (let pid = 9000; pid < 9020; pid++) await fakeProcess(proc, pid, { "0": "/dev/null" });
    await fakeProcess(proc, 100, { "5": "socket:[33333]" });
    const uid = Deno.uid()!;
    let inode = 33333;
    const lookup = linuxLookup({ proc, peerPorts: [8081], socketQuery: () => ({ inode, uid, state: 1 }) });
    assert.equal(
      await lookup.findClientProcess({ ip: "127.0.0.1", port: 35062 }),
      100,
      "found by a full pass",
    );
    await Deno.symlink("socket:[44444]", join(proc, "100", "fd", "6"));
    await Deno.symlink("socket:[44444]", join(proc, "9019", "fd", "6"));
    inode = 44444;
    assert.equal(await lookup.findClientProcess({ ip: "127.0.0.1", port: 35063 }), 100, "read first");
  }));

Deno.test("linuxLookup() stops looking for a socket its client closed while the scan ran", () =>
  withFakeProc(undefined, async (proc) => {
    // Twenty processes read first (the highest pids), ten descriptors each, none of them the socket; the
    // process holding it (the lowest pid) comes last.
    for (let pid = 9000; pid < 9020; pid++) {
      await Deno.mkdir(join(proc, String(pid), "fd"), { recursive: true });
      for (let fd = 0; fd < 10; fd++) {
        await Deno.symlink("/dev/null", join(proc, String(pid), "fd", String(fd)));
      }
    }
    await Deno.mkdir(join(proc, "100", "fd"), { recursive: true });
    await Deno.symlink("socket:[33333]", join(proc, "100", "fd", "5"));
    const uid = Deno.uid()!;
    const lookupWhere = (answer: (asked: number) => SocketAnswer) => {
      let asked = 0;
      return linuxLookup({ proc, peerPorts: [8081], socketQuery: () => answer(++asked) });
    };
    const open = lookupWhere(() => ({ inode: 33333, uid, state: 1 }));
    assert.equal(await open.findClientProcess({ ip: "127.0.0.1", port: 35062 }), 100, "read to the end");
    // The kernel knows the socket when the lookup starts, and no longer once the client has closed it.
    const closed = lookupWhere((asked) => asked === 1 ? { inode: 33333, uid, state: 1 } : null);
    assert.equal(
      await closed.findClientProcess({ ip: "127.0.0.1", port: 35062 }),
      undefined,
      "stopped early",
    );
  }));

Deno.test(
  "linuxLookup() serves a burst of lookups with a few scans, each finding the right process",
  onLinux,
  async () => {
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "attr-burst-" }));
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const count = 200;
    const code = `const cs = [];
for (let i = 0; i < ${count}; i++) cs.push(await Deno.connect({ hostname: "127.0.0.1", port: ${listener.addr.port} }));
console.log("connected");
for await (const _ of Deno.stdin.readable) { /* wait for the test to close stdin */ }
for (const c of cs) c.close();`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-config", code],
      cwd: dir,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const conns: Deno.Conn[] = [];
    const reader = child.stdout.getReader();
    try {
      for (let i = 0; i < count; i++) conns.push(await listener.accept());
      await reader.read();
      const scans: number[] = [];
      const lookup = linuxLookup({ onScan: (n) => scans.push(n) });
      const pids = await Promise.all(conns.map((c) => {
        const peer = c.remoteAddr as Deno.NetAddr;
        return lookup.findClientProcess({ ip: peer.hostname, port: peer.port });
      }));
      assert.ok(
        pids.every((p) => p === child.pid),
        `every socket is the child's (${child.pid}); found ${[...new Set(pids)]}`,
      );
      assert.equal(scans.reduce((a, b) => a + b, 0), count);
      assert.ok(scans.length <= 8, `${scans.length} scans for ${count} lookups: ${scans}`);
    } finally {
      reader.releaseLock();
      await child.stdin.close();
      await child.stdout.cancel();
      await child.status;
      for (const c of conns) c.close();
      listener.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "a client that exits right after its call keeps the project found when its CONNECT arrived",
  onLinux,
  async () => {
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "attr-short-" }));
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const code = `const c = await Deno.connect({ hostname: "127.0.0.1", port: ${listener.addr.port} });
await c.write(new Uint8Array([1]));
await c.read(new Uint8Array(1));`; // the "call": one byte out, one back, then the process ends
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-config", code],
      cwd: dir,
      env: { HALTON_PROJECT: "short-lived", NO_COLOR: "1" },
      stdout: "null",
      stderr: "inherit",
    }).spawn();
    const conn = await listener.accept();
    try {
      const peer = conn.remoteAddr as Deno.NetAddr;
      const client = { ip: peer.hostname, port: peer.port };
      const attributor = new Attributor({ lookup: linuxLookup() });
      // As the daemon does: the lookup starts when the connection arrives…
      const atConnect = attributor.resolve(client);
      await conn.read(new Uint8Array(1));
      assert.equal((await atConnect).project, "short-lived");
      // …the call completes and the client exits at once…
      await conn.write(new Uint8Array([2]));
      await child.status;
      // …and the row, written after, still gets the project; a lookup started only now could not find it.
      assert.deepEqual(await attributor.resolve(client), await atConnect);
      const late = await new Attributor({ lookup: linuxLookup() }).resolve(client);
      assert.notEqual(late.project, "short-lived");
    } finally {
      conn.close();
      listener.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("findSocket() prefers the socket connected to the meter when another program uses the same local port", () => {
  const line = (slot: number, local: string, remote: string, inode: number) =>
    `${slot}: ${local} ${remote} 01 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0 20 4 24 10 -1`;
  const table = [
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    // Port 0x88F6 (35062) of 127.0.0.1 connected to 127.0.0.1:5432 (another program), then to the edge (8081).
    line(0, "0100007F:88F6", "0100007F:1538", 500),
    line(1, "0100007F:88F6", "0100007F:1F91", 600),
  ].join("\n");
  const entries = parseProcNetTcp(table);
  const client = { ip: "127.0.0.1", port: 35062 };
  assert.deepEqual(findSocket(entries, client, new Set([8081, 8090])), { inode: 600, uid: 0 });
  assert.deepEqual(findSocket(entries, client, new Set([8090])), { inode: 500, uid: 0 });
  assert.deepEqual(findSocket(entries, client), { inode: 500, uid: 0 });
});

Deno.test("allSettled() is true once every key has the socket a lookup keeps: one connected to the meter", () => {
  const line = (slot: number, local: string, remote: string, state: string, inode: number) =>
    `${slot}: ${local} ${remote} ${state} 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0 20 4 24 10 -1`;
  const key = `${ipKey("127.0.0.1")}|35062`;
  const other = line(0, "0100007F:88F6", "0100007F:1538", "01", 500); // to 5432: another program
  const toEdge = line(1, "0100007F:88F6", "0100007F:1F91", "01", 600); // to 8081: the edge
  const listener = line(2, "0100007F:88F6", "00000000:0000", "0A", 700);
  const closed = line(3, "0100007F:88F6", "0100007F:1F91", "06", 0); // TIME_WAIT: nobody holds it
  const keys = new Set([key]);
  const peers = new Set([8081]);
  assert.equal(allSettled(parseProcNetTcp(other), keys, peers), false);
  assert.equal(allSettled(parseProcNetTcp([listener, closed].join("\n")), keys, peers), false);
  assert.equal(allSettled(parseProcNetTcp([other, toEdge].join("\n")), keys, peers), true);
  assert.equal(allSettled(parseProcNetTcp(other), keys), true);
  assert.equal(allSettled(parseProcNetTcp(toEdge), new Set([key, `${ipKey("127.0.0.1")}|1`]), peers), false);
});

Deno.test("readTableSync() hands over whole lines and stops reading once they are enough", async () => {
  const dir = await Deno.makeTempDir({ prefix: "attr-table-" });
  try {
    const path = join(dir, "tcp");
    // Over 200 KB, so that it takes several reads, with lines cut across them.
    const text = Array.from({ length: 3000 }, (_, i) => `${i}: ${"x".repeat(60 + (i % 17))}`).join("\n") +
      "\n";
    await Deno.writeTextFile(path, text);
    const all: string[] = [];
    readTableSync(path, (lines) => {
      all.push(lines);
      return false;
    });
    assert.ok(all.length > 2, `${all.length} chunks`);
    assert.ok(all.every((c) => c === "" || c.endsWith("\n")), "every chunk ends at a line's end");
    assert.equal(all.join(""), text);
    let asked = 0;
    readTableSync(path, (lines) => {
      asked++;
      return lines.includes("\n5: ");
    });
    assert.equal(asked, 1);
    let none = 0;
    readTableSync(join(dir, "missing"), () => ++none > 0);
    assert.equal(none, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scanOrder() reads processes new since the last scan first, even when pids wrapped around", () => {
  const before = new Set([300, 31000, 32001]);
  assert.deepEqual(scanOrder([300, 1715, 31000, 32001, 1716], before), [1716, 1715, 32001, 31000, 300]);
  assert.deepEqual(scanOrder([5, 7, 6], new Set()), [7, 6, 5], "the first scan: highest pid first");
});
