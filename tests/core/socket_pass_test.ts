import assert from "node:assert/strict";
import net from "node:net";
import { join } from "node:path";
import { type TcpPair, tcpPair } from "../helpers/tcp_pair.ts";
import {
  descriptorsIn,
  inet4Bytes,
  openSocketPassing,
  type ReceivedSocket,
  type SocketPassing,
  type SocketReceiver,
  type SocketSender,
  unixAddress,
  type WatchBell,
} from "../../core/socket_pass.ts";
import { watchBell } from "../../core/socket_bell.ts";
import { waitFor } from "../../testkit/processes.ts";

const LINUX = Deno.build.os === "linux";

Deno.test("unixAddress() spells a path as sockaddr_un, and refuses one the kernel could not take", () => {
  const at = unixAddress("/run/p.sock")!;
  assert.deepEqual([...at.subarray(0, 2)], [1, 0], "AF_UNIX");
  assert.equal(new TextDecoder().decode(at.subarray(2, -1)), "/run/p.sock");
  assert.equal(at[at.length - 1], 0, "ends with its zero");
  assert.equal(unixAddress("/" + "x".repeat(106))?.length, 2 + 107 + 1);
  assert.equal(unixAddress("/" + "x".repeat(107)), undefined, "108 bytes leave no room for the zero");
  assert.equal(unixAddress(""), undefined);
  assert.equal(unixAddress("/a\0b"), undefined);
});

Deno.test("inet4Bytes() spells an IPv4 address as the start of sockaddr_in, and nothing else", () => {
  const b = inet4Bytes({ ip: "127.0.0.1", port: 8081 })!;
  assert.deepEqual([...b], [2, 0, 0x1f, 0x91, 127, 0, 0, 1], "AF_INET, the port big-endian, the address");
  assert.equal(inet4Bytes({ ip: "::1", port: 8081 }), undefined);
  assert.equal(inet4Bytes({ ip: "127.0.0.256", port: 8081 }), undefined);
  assert.equal(inet4Bytes({ ip: "127.0.1", port: 8081 }), undefined);
});

Deno.test("descriptorsIn() reads the descriptors of SCM_RIGHTS messages and skips others", () => {
  const b = new Uint8Array(64);
  const v = new DataView(b.buffer);
  // SCM_CREDENTIALS (level 1, type 2), 12 bytes of data, padded to 32.
  v.setBigUint64(0, 28n, true);
  v.setInt32(8, 1, true);
  v.setInt32(12, 2, true);
  // SCM_RIGHTS with two descriptors.
  v.setBigUint64(32, 24n, true);
  v.setInt32(40, 1, true);
  v.setInt32(44, 1, true);
  v.setInt32(48, 7, true);
  v.setInt32(52, 9, true);
  assert.deepEqual(descriptorsIn(b.subarray(0, 56)), [7, 9]);
  assert.deepEqual(descriptorsIn(b.subarray(32, 56)), [7, 9]);
  assert.deepEqual(descriptorsIn(new Uint8Array(0)), []);
  v.setBigUint64(32, 4096n, true);
  assert.deepEqual(descriptorsIn(b.subarray(0, 56)), [], "a length past the end stops the reading");
});

/**
 * A test against this machine's kernel (Linux only): `fn` gets socket passing, opened, and a temp folder for
 * receivers; both are let go of after.
 */
function kernelTest(name: string, fn: (passing: SocketPassing, dir: string) => Promise<void>): void {
  Deno.test({
    name,
    ignore: !LINUX,
    async fn() {
      const passing = openSocketPassing();
      assert.ok(passing, "Linux, with libc and the FFI permission: socket passing works here");
      const dir = await Deno.makeTempDir({ prefix: "hm-pass-" });
      try {
        await fn(passing, dir);
      } finally {
        await Deno.remove(dir, { recursive: true });
        passing.close();
      }
    },
  });
}

/** The descriptor of `pair`'s accepted end in this process. */
function descriptorOf(passing: SocketPassing, { server }: TcpPair): number | undefined {
  return passing.descriptorOf(
    { ip: "127.0.0.1", port: server.localAddr.port },
    { ip: "127.0.0.1", port: server.remoteAddr.port },
  );
}

async function readText(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(256);
  const n = await conn.read(buf);
  return n === null ? "" : new TextDecoder().decode(buf.subarray(0, n));
}

kernelTest(
  "a socket passed to a receiver is served there, and the sender's copy can go once it ended",
  async (passing, dir) => {
    const path = join(dir, "pass.sock");
    const received = Promise.withResolvers<ReceivedSocket>();
    const receiver = passing.listen(path, (s) => received.resolve(s))!;
    assert.equal((Deno.statSync(path).mode! & 0o777).toString(8), "600", "only this user may pass sockets");
    const pair = await tcpPair();
    const { server, client } = pair;
    try {
      const fd = descriptorOf(passing, pair);
      assert.ok(fd !== undefined && fd > 2, `the accepted socket was found among the descriptors (${fd})`);
      assert.equal(
        passing.descriptorOf({ ip: "127.0.0.1", port: 1 }, { ip: "127.0.0.1", port: 2 }),
        undefined,
      );

      const sender = passing.connect(path)!;
      assert.ok(sender.send(fd, new TextEncoder().encode("token")));
      const got = await received.promise;
      assert.equal(new TextDecoder().decode(got.payload), "token");
      const served = new net.Socket({ fd: got.fd, readable: true, writable: true });
      served.on("data", (d) => served.write(`echo ${d}`));
      await client.write(new TextEncoder().encode("ping"));
      assert.equal(
        await readText(client),
        "echo ping",
        "the receiver answers the client on the passed socket",
      );
      assert.equal(passing.sendingEnded(fd), false, "still open both ways");

      const rewatch = passing.unwatch(fd);
      assert.ok(rewatch, "the accepted socket was in this process's event loop");
      assert.equal(passing.unwatch(fd), undefined, "and is out of it now");
      await client.write(new TextEncoder().encode("pong"));
      assert.equal(await readText(client), "echo pong", "the receiver still serves it");
      rewatch();

      served.end();
      assert.equal(await readText(client), "", "the receiver's end reaches the client");
      assert.equal(passing.sendingEnded(fd), true, "the sender sees its copy is no longer needed");
      server.close();
      served.destroy();

      await receiver.close();
      await sender.gone;
      assert.equal(sender.send(fd, new TextEncoder().encode("x")), false, "nobody to send to");
      assert.throws(() => Deno.statSync(path), Deno.errors.NotFound, "the receiver removed its path");
      assert.equal(passing.connect(path), undefined, "nothing listens there any more");
    } finally {
      client.close();
      await receiver.close();
    }
  },
);

kernelTest(
  "a sender closed by its own process stops waiting, and a receiver refuses a path it cannot bind",
  async (passing, dir) => {
    const receiver = passing.listen(join(dir, "pass.sock"), () => {})!;
    try {
      const sender = passing.connect(join(dir, "pass.sock"))!;
      await sender.close();
      await sender.gone;
      assert.equal(passing.listen(join(dir, "missing", "pass.sock"), () => {}), undefined);
      assert.equal(passing.listen("/" + "x".repeat(200), () => {}), undefined);
    } finally {
      await receiver.close();
    }
  },
);

kernelTest(
  "a socket refused by its receiver ends for its client, and for a sender still holding a copy",
  async (passing, dir) => {
    const receiver = passing.listen(join(dir, "pass.sock"), (s) => passing.refuse(s.fd))!;
    const pair = await tcpPair();
    try {
      const fd = descriptorOf(passing, pair)!;
      const sender = passing.connect(join(dir, "pass.sock"))!;
      assert.ok(sender.send(fd, new TextEncoder().encode("unknown token")));
      assert.equal(await readText(pair.client), "", "the client sees its connection end");
      assert.equal(passing.sendingEnded(fd), true, "so the sender may let its copy go");
      await sender.close();
    } finally {
      pair.server.close();
      pair.client.close();
      await receiver.close();
    }
  },
);

kernelTest(
  "shut() ends a passed socket for its client while the sender still holds a copy, and leaves the descriptor open",
  async (passing, dir) => {
    const received = Promise.withResolvers<ReceivedSocket>();
    const receiver = passing.listen(join(dir, "pass.sock"), (s) => received.resolve(s))!;
    const pair = await tcpPair();
    try {
      const fd = descriptorOf(passing, pair)!;
      const sender = passing.connect(join(dir, "pass.sock"))!;
      assert.ok(sender.send(fd, new TextEncoder().encode("token")));
      const got = await received.promise;
      passing.shut(got.fd);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stillOpen = new Promise<string>((r) => timer = setTimeout(() => r("still open after 2 s"), 2000));
      const read = await Promise.race([readText(pair.client), stillOpen]);
      clearTimeout(timer);
      assert.equal(read, "", "the client sees its connection end");
      assert.equal(passing.sendingEnded(fd), true, "so the sender may let its copy go");
      assert.equal(passing.sendingEnded(got.fd), true, "the receiver's descriptor is still there to ask");
      passing.giveBack(got.fd);
      await sender.close();
    } finally {
      pair.server.close();
      pair.client.close();
      await receiver.close();
    }
  },
);

kernelTest("a burst of sockets sent at once all arrive, each with its own payload", async (passing, dir) => {
  const got: string[] = [];
  const all = Promise.withResolvers<void>();
  const receiver = passing.listen(join(dir, "pass.sock"), (s) => {
    got.push(new TextDecoder().decode(s.payload));
    passing.refuse(s.fd);
    if (got.length === 20) all.resolve();
  })!;
  const pairs = await Promise.all(Array.from({ length: 20 }, tcpPair));
  const sender = passing.connect(join(dir, "pass.sock"))!;
  try {
    pairs.forEach((pair, i) => {
      assert.ok(sender.send(descriptorOf(passing, pair)!, new TextEncoder().encode(`socket ${i}`)));
    });
    await all.promise;
    assert.deepEqual(got.sort(), Array.from({ length: 20 }, (_, i) => `socket ${i}`).sort());
  } finally {
    await closeAll(sender, pairs, receiver);
  }
});

kernelTest(
  "a receiver's replies reach its sender; stopped, it takes what was sent before and fails what comes after",
  async (passing, dir) => {
    const path = join(dir, "pass.sock");
    const got: string[] = [];
    const receiver = passing.listen(path, (s) => {
      got.push(new TextDecoder().decode(s.payload));
      assert.ok(s.reply(new TextEncoder().encode(`took ${got.length}`)));
      assert.ok(passing.writeNow(s.fd, new TextEncoder().encode(`hello ${got.length}`)));
      passing.giveBack(s.fd);
    })!;
    const replies: string[] = [];
    const replied = Promise.withResolvers<void>();
    const sender = passing.connect(path, (r) => {
      replies.push(new TextDecoder().decode(r));
      if (replies.length === 2) replied.resolve();
    })!;
    const [a, b, c] = [await tcpPair(), await tcpPair(), await tcpPair()];
    try {
      assert.equal(passing.written(descriptorOf(passing, a)!), false, "nothing written to it yet");
      assert.ok(sender.send(descriptorOf(passing, a)!, new TextEncoder().encode("first")));
      assert.ok(sender.send(descriptorOf(passing, b)!, new TextEncoder().encode("second")));
      receiver.stopTaking();
      assert.equal(
        sender.send(descriptorOf(passing, c)!, new TextEncoder().encode("third")),
        false,
        "a receiver that stopped fails the next send at once",
      );
      await replied.promise;
      assert.deepEqual(got, ["first", "second"], "what was on its way when it stopped is still taken");
      assert.deepEqual(replies, ["took 1", "took 2"]);
      assert.equal(await readText(a.client), "hello 1", "written to the passed socket at once");
      assert.equal(passing.written(descriptorOf(passing, a)!), true, "which the sender's copy shows");
      await a.server.write(new TextEncoder().encode("still mine"));
      assert.equal(await readText(a.client), "still mine", "given back: the sender's copy works as before");
      assert.equal(passing.connect(path), undefined, "no new sender can connect");
      let gone = false;
      sender.gone.then(() => gone = true);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(gone, false, "stopped is not gone: senders keep the copies they passed before");
      await receiver.close();
      await sender.gone;
    } finally {
      await sender.close();
      for (const { server, client } of [a, b, c]) {
        server.close();
        client.close();
      }
      await receiver.close();
    }
  },
);

/** Closes `sender`, both ends of each of `pairs`, then `receiver`. */
async function closeAll(sender: SocketSender, pairs: TcpPair[], receiver: SocketReceiver): Promise<void> {
  await sender.close();
  for (const { server, client } of pairs) {
    server.close();
    client.close();
  }
  await receiver.close();
}

/** Sends a socket of each of `pairs` with payloads `prefix 0`, `prefix 1`, … */
function sendEach(passing: SocketPassing, sender: SocketSender, pairs: TcpPair[], prefix: string): void {
  pairs.forEach((pair, i) => {
    assert.ok(sender.send(descriptorOf(passing, pair)!, new TextEncoder().encode(`${prefix} ${i}`)));
  });
}

/** A receiver at `path` that refuses each socket and keeps its payload. */
function collecting(passing: SocketPassing, path: string, watch?: WatchBell) {
  const got: string[] = [];
  const receiver = passing.listen(path, (s) => {
    got.push(new TextDecoder().decode(s.payload));
    passing.refuse(s.fd);
  }, watch)!;
  return { got, receiver };
}

/** Resolves once `got` holds `count` payloads; fails after 5 s. */
function gotAll(got: string[], count: number): Promise<void> {
  return waitFor(`${count} sockets`, () => Promise.resolve(got.length >= count), 5000);
}

kernelTest(
  "a sender that rings has its sockets taken when its bell rings, and its bell closed once it goes",
  async (passing, dir) => {
    let watched = 0;
    let rings = 0;
    const closed = Promise.withResolvers<void>();
    const counting: WatchBell = (fd, ring, ended) => {
      watched++;
      const bell = watchBell(fd, () => {
        rings++;
        ring();
      }, ended);
      return bell && {
        close() {
          bell.close();
          closed.resolve();
        },
      };
    };
    const { got, receiver } = collecting(passing, join(dir, "pass.sock"), counting);
    const pairs = await Promise.all(Array.from({ length: 21 }, tcpPair));
    const sender = passing.connect(join(dir, "pass.sock"), undefined, true)!;
    try {
      sendEach(passing, sender, pairs.slice(0, 1), "first");
      await new Promise((r) => setTimeout(r, 50));
      // The blocked thread takes the bell; every socket after it comes by a ring.
      sendEach(passing, sender, pairs.slice(1), "burst");
      await gotAll(got, 21);
      assert.equal(watched, 1, "one bell for the connection");
      assert.ok(rings >= 1, `the bell rang (${rings} times)`);
      assert.deepEqual(got.sort(), ["first 0", ...Array.from({ length: 20 }, (_, i) => `burst ${i}`)].sort());
      await sender.close();
      await closed.promise;
    } finally {
      await closeAll(sender, pairs, receiver);
    }
  },
);

kernelTest(
  "a receiver that watches no bells closes one and takes the sender's sockets all the same",
  async (passing, dir) => {
    const { got, receiver } = collecting(passing, join(dir, "pass.sock"));
    const pairs = await Promise.all(Array.from({ length: 3 }, tcpPair));
    const sender = passing.connect(join(dir, "pass.sock"), undefined, true)!;
    try {
      sendEach(passing, sender, pairs, "socket");
      await gotAll(got, 3);
      assert.deepEqual(got.sort(), ["socket 0", "socket 1", "socket 2"]);
    } finally {
      await closeAll(sender, pairs, receiver);
    }
  },
);

kernelTest(
  "a bell that goes while its sender stays: a blocked thread takes the sender's sockets again",
  async (passing, dir) => {
    // A watch that never rings, and ends when the test says so.
    let end = () => {};
    const deaf: WatchBell = (fd, _ring, ended) => {
      end = ended;
      return { close: () => void passing.giveBack(fd) };
    };
    const path = join(dir, "pass.sock");
    const { got, receiver } = collecting(passing, path, deaf);
    const pairs = await Promise.all(Array.from({ length: 2 }, tcpPair));
    const sender = passing.connect(path, undefined, true)!;
    try {
      await new Promise((r) => setTimeout(r, 50));
      sendEach(passing, sender, pairs.slice(0, 1), "before");
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(got, [], "waits for a ring that does not come");
      end();
      assert.deepEqual(got, ["before 0"], "taken as the bell goes");
      sendEach(passing, sender, pairs.slice(1), "after");
      await gotAll(got, 2);
      assert.deepEqual(got, ["before 0", "after 0"], "and what comes next, without a bell");
    } finally {
      await closeAll(sender, pairs, receiver);
    }
  },
);

kernelTest(
  "a receiver with bells, stopped, still takes what was sent before and fails what comes after",
  async (passing, dir) => {
    const path = join(dir, "pass.sock");
    const { got, receiver } = collecting(passing, path, watchBell);
    const pairs = await Promise.all(Array.from({ length: 3 }, tcpPair));
    const sender = passing.connect(path, undefined, true)!;
    try {
      sendEach(passing, sender, pairs.slice(0, 1), "bell");
      await new Promise((r) => setTimeout(r, 50));
      sendEach(passing, sender, pairs.slice(1, 2), "queued");
      receiver.stopTaking();
      assert.equal(sender.send(descriptorOf(passing, pairs[2])!, new TextEncoder().encode("late")), false);
      await gotAll(got, 2);
      assert.deepEqual(got.sort(), ["bell 0", "queued 0"]);
    } finally {
      await closeAll(sender, pairs, receiver);
    }
  },
);

kernelTest("now() is one clock for every process of the machine", async (passing) => {
  const before = passing.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { openSocketPassing } from "${new URL("../../core/socket_pass.ts", import.meta.url)}";` +
      "const p = openSocketPassing(); console.log(p.now()); p.close();",
    ],
    stderr: "inherit",
  }).output();
  const after = passing.now();
  const child = Number(new TextDecoder().decode(out.stdout));
  assert.ok(before <= child && child <= after, `${before} <= ${child} <= ${after}`);
  assert.ok(after - before < 60_000, "in milliseconds");
});

kernelTest(
  "descriptorOf() finds each connection's own descriptor, where the last one was or elsewhere",
  async (passing) => {
    const fresh = openSocketPassing()!;
    const pairs: TcpPair[] = [];
    try {
      for (let i = 0; i < 6; i++) {
        const pair = await tcpPair();
        pairs.push(pair);
        // Every other round frees the newest connection's descriptor, so the next one takes it again.
        const fd = descriptorOf(passing, pair);
        assert.ok(fd !== undefined);
        assert.equal(fd, descriptorOf(fresh, pair), "the same answer as a search from the lowest descriptor");
        if (i % 2 === 1) {
          pair.server.close();
          pair.client.close();
          pairs.pop();
        }
      }
    } finally {
      for (const { server, client } of pairs) {
        server.close();
        client.close();
      }
      fresh.close();
    }
  },
);

kernelTest(
  "ackNow() takes a socket out of delayed acknowledgement, as the kernel reports it",
  async (passing) => {
    const libc = Deno.dlopen("libc.so.6", {
      getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
    });
    const pair = await tcpPair();
    try {
      const fd = descriptorOf(passing, pair)!;
      const value = new Int32Array(1);
      const length = new Uint32Array([4]);
      // TCP_QUICKACK read back: 1 while the kernel acknowledges at once, 0 while it waits to send the ACK with
      // an answer ("pingpong", which a socket enters by answering soon after it receives).
      const quickAck = () => {
        assert.equal(libc.symbols.getsockopt(fd, 6, 12, value, length), 0);
        return value[0];
      };
      for (let i = 0; i < 4; i++) {
        await pair.client.write(new TextEncoder().encode("ask"));
        await readText(pair.server);
        await pair.server.write(new TextEncoder().encode("answer"));
        await readText(pair.client);
      }
      assert.equal(quickAck(), 0, "after requests answered at once, acknowledgements wait for the answer");
      passing.ackNow(fd);
      assert.equal(quickAck(), 1, "ackNow(): acknowledged at once");
    } finally {
      pair.client.close();
      pair.server.close();
      libc.close();
    }
  },
);
