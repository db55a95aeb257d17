import assert from "node:assert/strict";
import { join } from "node:path";
import {
  findSocket,
  findSocketInText,
  linuxLookup,
  parseEnviron,
  parseNulList,
  parseProcNetTcp,
  parseProcStatus,
  procHexAddressKey,
} from "../../../daemon/attribution/linux.ts";
import { Attributor } from "../../../daemon/attribution/attributor.ts";
import { ipKey } from "../../../daemon/attribution/ip.ts";

const FIXTURES = new URL("../../fixtures/attribution/", import.meta.url);
const fixture = (name: string) => Deno.readTextFileSync(new URL(name, FIXTURES));
const onLinux = { ignore: Deno.build.os !== "linux" };

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

Deno.test("findSocketInText() finds what findSocket() finds, in the text of either table", () => {
  const texts = { tcp: fixture("linux_proc_net_tcp.txt"), tcp6: fixture("linux_proc_net_tcp6.txt") };
  const addresses = [
    { ip: "127.0.0.1", port: 35062 },
    { ip: "127.0.0.1", port: 34185 },
    { ip: "127.0.0.1", port: 1 },
    { ip: "::1", port: 44202 },
    { ip: "127.0.0.1", port: 43388 },
    { ip: "::ffff:127.0.0.1", port: 43388 },
    { ip: "::ffff:127.0.0.1", port: 35062 },
  ];
  let found = 0;
  for (const table of ["tcp", "tcp6"] as const) {
    const entries = parseProcNetTcp(texts[table]);
    for (const a of addresses) {
      const expected = findSocket(entries, a);
      if (expected) found++;
      assert.deepEqual(findSocketInText(texts[table], table, a), expected, `${table} ${a.ip}:${a.port}`);
    }
  }
  assert.equal(found, 6);
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

Deno.test("linuxLookup() answers lookups that arrive together from one scan, each with its own process", async () => {
  const proc = await Deno.makeTempDir({ prefix: "attr-proc-" });
  try {
    await Deno.mkdir(join(proc, "net"));
    for (const [pid, inode] of [[7237, 11495], [7240, 11114]]) {
      await Deno.mkdir(join(proc, String(pid), "fd"), { recursive: true });
      await Deno.symlink("/dev/null", join(proc, String(pid), "fd", "0"));
      await Deno.symlink(`socket:[${inode}]`, join(proc, String(pid), "fd", "7"));
    }
    await Deno.writeTextFile(join(proc, "net", "tcp"), tcpOwnedBy(Deno.uid()!));
    const lookup = linuxLookup({ proc });
    const find = (port: number) => lookup.findClientProcess({ ip: "127.0.0.1", port });
    // 0x88F6 = 35062 (inode 11495), 0xD4AA = 54442 (inode 11114), 0x8589 = 34185 (inode 11496, held by none).
    assert.deepEqual(await Promise.all([find(35062), find(54442), find(34185), find(35062)]), [
      7237,
      7240,
      undefined,
      7237,
    ]);
    // A socket that moved to another process is found there, though the first is remembered as a holder.
    await Deno.remove(join(proc, "7237", "fd", "7"));
    await Deno.symlink("socket:[11495]", join(proc, "7240", "fd", "8"));
    assert.equal(await find(35062), 7240);
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
});
