import assert from "node:assert/strict";
import { linuxLookup, parseProcNetTcp } from "../../../daemon/attribution/linux.ts";
import {
  decodeSocketAnswer,
  encodeSocketQuery,
  findsOwnListener,
  sockDiagQuery,
} from "../../../daemon/attribution/sock_diag.ts";
import { ipKey } from "../../../daemon/attribution/ip.ts";

Deno.test("encodeSocketQuery() asks for one IPv4 TCP socket by both its ends", () => {
  const q = encodeSocketQuery(7, { ip: "127.0.0.2", port: 50216 }, { ip: "127.0.0.1", port: 8081 })!;
  const v = new DataView(q.buffer);
  assert.equal(q.length, 72);
  assert.equal(v.getUint32(0, true), 72, "message length");
  assert.equal(v.getUint16(4, true), 20, "SOCK_DIAG_BY_FAMILY");
  assert.equal(v.getUint16(6, true), 1, "a request, not a dump");
  assert.equal(v.getUint32(8, true), 7, "sequence number");
  assert.deepEqual([q[16], q[17]], [2, 6], "AF_INET, TCP");
  assert.equal(v.getUint16(24, false), 50216, "local port, network order");
  assert.equal(v.getUint16(26, false), 8081, "remote port, network order");
  assert.deepEqual([...q.subarray(28, 32)], [127, 0, 0, 2]);
  assert.deepEqual([...q.subarray(44, 48)], [127, 0, 0, 1]);
  assert.deepEqual([v.getUint32(64, true), v.getUint32(68, true)], [0xffffffff, 0xffffffff], "any cookie");
  const mapped = encodeSocketQuery(7, { ip: "::ffff:127.0.0.2", port: 50216 }, {
    ip: "127.0.0.1",
    port: 8081,
  });
  assert.deepEqual(mapped, q);
  assert.equal(encodeSocketQuery(7, { ip: "::1", port: 50216 }, { ip: "127.0.0.1", port: 8081 }), undefined);
});

/** A kernel answer of `type` for question `seq`, with `fill` writing its body. */
function answer(
  seq: number,
  type: number,
  bytes: number,
  fill: (v: DataView, b: Uint8Array) => void,
): Uint8Array {
  const b = new Uint8Array(bytes);
  const v = new DataView(b.buffer);
  v.setUint32(0, bytes, true);
  v.setUint16(4, type, true);
  v.setUint32(8, seq, true);
  fill(v, b);
  return b;
}

Deno.test("decodeSocketAnswer() reads the socket, a missing one, and refuses anything else", () => {
  const found = answer(3, 20, 88, (v, b) => {
    b[17] = 1;
    v.setUint32(80, 1000, true);
    v.setUint32(84, 3655745, true);
  });
  assert.deepEqual(decodeSocketAnswer(found, 3), { state: 1, uid: 1000, inode: 3655745 });
  assert.equal(decodeSocketAnswer(found, 4), undefined, "the answer to another question");
  assert.equal(decodeSocketAnswer(found.subarray(0, 60), 3), undefined, "cut short");
  const enoent = answer(3, 2, 36, (v) => v.setInt32(16, -2, true));
  assert.equal(decodeSocketAnswer(enoent, 3), null);
  const eperm = answer(3, 2, 36, (v) => v.setInt32(16, -1, true));
  assert.equal(decodeSocketAnswer(eperm, 3), undefined);
  assert.equal(decodeSocketAnswer(new Uint8Array(8), 3), undefined);
});

const query = Deno.build.os === "linux" ? sockDiagQuery() : undefined;
const withSockDiag = {
  // Where the kernel or a sandbox refuses sock_diag, the daemon reads the socket tables (linux_test.ts).
  ignore: query === undefined,
};

Deno.test("findsOwnListener() takes only a kernel that finds a socket known to exist", () => {
  assert.equal(findsOwnListener(() => null), false, "a kernel answering none to everything");
  assert.equal(findsOwnListener(() => undefined), false, "one that cannot be asked");
  assert.equal(findsOwnListener(() => ({ state: 1, uid: 0, inode: 0 })), false);
  const asked: [string, number][] = [];
  assert.equal(
    findsOwnListener((local, remote) => {
      asked.push([local.ip, remote.port]);
      return { state: 0x0a, uid: 0, inode: 7 };
    }),
    true,
  );
  assert.deepEqual(asked, [["127.0.0.1", 0]]);
  if (query) assert.equal(findsOwnListener(query), true, "this kernel");
});

/** A connection from `clientHost` to a 127.0.0.1 listener, the client's socket as its table lists it. */
async function withConnection(
  clientHost: string,
  table: "tcp" | "tcp6",
  fn: (c: { seen: Deno.NetAddr; listener: Deno.NetAddr; inode: number | undefined }) => void,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: clientHost, port: listener.addr.port });
  const server = await listener.accept();
  try {
    const local = client.localAddr as Deno.NetAddr;
    // Matched by both ends: a closed socket of an earlier test may still list the same local port (TIME_WAIT).
    const listed = parseProcNetTcp(Deno.readTextFileSync(`/proc/net/${table}`)).find((e) =>
      e.localKey === ipKey(local.hostname) && e.localPort === local.port &&
      e.remotePort === listener.addr.port
    );
    fn({ seen: server.remoteAddr as Deno.NetAddr, listener: listener.addr, inode: listed?.inode });
  } finally {
    client.close();
    server.close();
    listener.close();
  }
}

Deno.test(
  "sockDiagQuery() finds the socket /proc/net/tcp lists, and none for another remote end",
  withSockDiag,
  () =>
    withConnection("127.0.0.1", "tcp", ({ seen, listener, inode }) => {
      const local = { ip: seen.hostname, port: seen.port };
      const remote = { ip: "127.0.0.1", port: listener.port };
      const s = query!(local, remote);
      assert.ok(s && inode !== undefined);
      assert.deepEqual(s, { state: 1, uid: Deno.uid(), inode });
      assert.equal(query!(local, { ...remote, port: remote.port + 1 }), null);
    }),
);

Deno.test(
  "sockDiagQuery() finds a dual-stack client's IPv6 socket by the IPv4 address the edge saw",
  withSockDiag,
  () =>
    withConnection("::ffff:127.0.0.1", "tcp6", ({ seen, listener, inode }) => {
      assert.equal(seen.hostname, "127.0.0.1", "the listener sees an IPv4 peer");
      assert.ok(inode !== undefined, "the client's socket is an IPv6 one");
      const s = query!({ ip: seen.hostname, port: seen.port }, { ip: "127.0.0.1", port: listener.port });
      assert.deepEqual(s, { state: 1, uid: Deno.uid(), inode });
    }),
);

Deno.test("linuxLookup() asks the kernel and finds the real client process", withSockDiag, async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const code = `const c = await Deno.connect({ hostname: "127.0.0.1", port: ${listener.addr.port} });
await c.read(new Uint8Array(1));`;
  const child = new Deno.Command(Deno.execPath(), { args: ["eval", "--no-config", code], stderr: "inherit" })
    .spawn();
  const conn = await listener.accept();
  // A proc tree without socket tables: only the kernel's answer can find the socket.
  const proc = await tablelessProc();
  try {
    const peer = conn.remoteAddr as Deno.NetAddr;
    const asked: number[] = [];
    const lookup = linuxLookup({
      proc,
      peerPorts: [listener.addr.port + 1, listener.addr.port],
      socketQuery: (local, remote) => {
        asked.push(remote.port);
        return query!(local, remote);
      },
    });
    assert.equal(await lookup.findClientProcess({ ip: peer.hostname, port: peer.port }), child.pid);
    // Each peer port in turn. A scan that reads many descriptors before it finds the owner (a busy machine)
    // asks again, the same way, whether the socket is still open.
    const pair = [listener.addr.port + 1, listener.addr.port];
    assert.deepEqual(asked.slice(0, 2), pair);
    assert.deepEqual(asked, asked.map((_, i) => pair[i % 2]));
  } finally {
    await conn.write(new Uint8Array([1]));
    await child.status;
    conn.close();
    listener.close();
    await Deno.remove(proc, { recursive: true });
  }
});

/** A directory that mirrors the real `/proc`'s processes but has no `net/tcp` tables. */
async function tablelessProc(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "attr-tableless-" });
  for (const e of Deno.readDirSync("/proc")) {
    if (/^\d+$/.test(e.name)) await Deno.symlink(`/proc/${e.name}`, `${dir}/${e.name}`).catch(() => {});
  }
  return dir;
}
