import assert from "node:assert/strict";
import { DIRECT_MARGIN_MS, SocketPasser } from "../../edge/_pass.ts";
import { MAX_PAYLOAD_BYTES, type SocketPassing, type SocketSender } from "../../core/socket_pass.ts";
import { tcpPair } from "../helpers/tcp_pair.ts";

/** A {@linkcode SocketPassing} that records what is sent and is told which sockets have ended. */
class FakePassing implements SocketPassing {
  sent: { path: string; fd: number; payload: string }[] = [];
  ended = new Set<number>();
  full = false;
  senders = new Map<
    string,
    { sender: SocketSender; leave: () => void; reply: (payload: string) => void; queued: string[] }
  >();
  clock = 5000;

  skipped: number[][] = [];
  descriptorOf(_local: unknown, remote: { port: number }, skip?: { has(fd: number): boolean }) {
    this.skipped.push([40, 41, 42, 43].filter((fd) => skip?.has(fd)));
    return remote.port === 1 ? undefined : 40 + this.sent.length;
  }

  /** Whether each sender was asked to ring, by path. */
  rings = new Map<string, boolean>();
  connect(path: string, onReply?: (payload: Uint8Array) => void, ring = false): SocketSender {
    this.rings.set(path, ring);
    const left = Promise.withResolvers<void>();
    const queued: string[] = [];
    const sender: SocketSender = {
      send: (fd, payload) => {
        if (this.full) return false;
        this.sent.push({ path, fd, payload: new TextDecoder().decode(payload) });
        return true;
      },
      takeReplies: () => {
        for (const r of queued.splice(0)) onReply?.(new TextEncoder().encode(r));
      },
      gone: left.promise,
      close: () => (left.resolve(), left.promise),
    };
    const reply = (payload: string) => onReply?.(new TextEncoder().encode(payload));
    this.senders.set(path, { sender, leave: left.resolve, reply, queued });
    return sender;
  }

  now() {
    return this.clock;
  }

  giveBack() {}

  writeNow() {
    return true;
  }

  sendingEnded(fd: number) {
    return this.ended.has(fd);
  }

  ackNow() {}

  shut() {}

  /** Sockets the daemon answered on; undefined for every socket when the kernel cannot say. */
  answered: Set<number> | undefined = new Set();
  written(fd: number) {
    return this.answered?.has(fd);
  }

  unwatched: number[] = [];
  rewatched: number[] = [];
  unwatch(fd: number) {
    this.unwatched.push(fd);
    return () => void this.rewatched.push(fd);
  }

  listen() {
    return undefined;
  }

  refuse() {}

  closed = false;
  close() {
    this.closed = true;
  }
}

/** A connection whose accepted end is the edge's (to hold), and the client's, which sees that copy close. */
async function pair(): Promise<{ edge: Deno.TcpConn; client: Deno.TcpConn }> {
  const { server, client } = await tcpPair();
  return { edge: server, client };
}

/** Whether the client sees its connection end within `ms`. */
async function ends(client: Deno.Conn, ms = 1000): Promise<boolean> {
  const timer = setTimeout(() => client.close(), ms);
  try {
    return await client.read(new Uint8Array(16)) === null;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("SocketPasser passes a connection with its token and the client's early bytes, and holds it", async () => {
  const passing = new FakePassing();
  const passer = new SocketPasser(() => passing, 60_000);
  const a = await pair();
  try {
    const offer = passer.offer(a.edge)!;
    assert.match(offer.token, /^[0-9a-f]{32}$/);
    assert.notEqual(passer.offer(a.edge)!.token, offer.token, "every offer has a token of its own");
    assert.ok(passer.pass("/run/p.sock", a.edge, offer, new TextEncoder().encode("hello")));
    assert.deepEqual(passing.sent, [{ path: "/run/p.sock", fd: offer.fd, payload: `${offer.token}hello` }]);
    assert.equal(passer.held, 1);
    assert.ok(
      !passer.pass("/run/p.sock", a.edge, offer, new Uint8Array(MAX_PAYLOAD_BYTES)),
      "early bytes too many to go with the socket: relayed instead",
    );
    passing.full = true;
    assert.ok(!passer.pass("/run/p.sock", a.edge, offer, new Uint8Array(0)), "a send refused is no pass");
    assert.equal(passer.held, 1);
  } finally {
    await passer.close();
    a.client.close();
  }
});

Deno.test("SocketPasser lets a held copy go once the daemon ended it, and all of a daemon's once it has gone", async () => {
  const passing = new FakePassing();
  const passer = new SocketPasser(() => passing, 20);
  const [a, b, c] = [await pair(), await pair(), await pair()];
  try {
    const offers = [a, b].map((p) => {
      const offer = passer.offer(p.edge)!;
      assert.ok(passer.pass("/run/old.sock", p.edge, offer, new Uint8Array(0)));
      return offer;
    });
    const offerC = passer.offer(c.edge)!;
    assert.deepEqual(passing.skipped.at(-1), offers.map((o) => o.fd), "an offer never looks at a held copy");
    assert.ok(passer.pass("/run/new.sock", c.edge, offerC, new Uint8Array(0)));
    assert.equal(passer.held, 3);

    passer.quiet(offers[0]);
    passer.quiet(offers[0]);
    assert.deepEqual(passing.unwatched, [offers[0].fd], "a quieted copy is taken out of the event loop once");
    passing.ended.add(offers[0].fd);
    assert.ok(await ends(a.client), "the copy the daemon is done with is closed by the sweep");
    assert.equal(passer.held, 2);
    assert.deepEqual(passing.rewatched, [offers[0].fd], "and put back for Deno to take out as it closes it");

    passing.senders.get("/run/old.sock")!.leave();
    assert.ok(await ends(b.client), "the daemon gone: its clients' connections end at once");
    assert.equal(passer.held, 1);
    assert.equal(await ends(c.client, 150), false, "another daemon's connection is left alone");
  } finally {
    await passer.close();
    for (const p of [a, b, c]) {
      try {
        p.client.close();
      } catch { /* closed by the test already */ }
    }
  }
});

Deno.test("SocketPasser has no offer for a connection it cannot find, and close() ends what it holds", async () => {
  const passing = new FakePassing();
  const passer = new SocketPasser(() => passing, 60_000);
  const a = await pair();
  const offer = passer.offer(a.edge)!;
  assert.ok(passer.pass("/run/p.sock", a.edge, offer, new Uint8Array(0)));
  const unknown = {
    localAddr: { transport: "tcp", hostname: "127.0.0.1", port: 8081 },
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
  } as unknown as Deno.Conn;
  assert.equal(passer.offer(unknown), undefined);
  await passer.close();
  assert.equal(passer.held, 0);
  assert.ok(passing.closed, "and lets go of libc");
  assert.ok(await ends(a.client), "closing the edge ends the connections it held, as closing a relay does");
  a.client.close();
});

Deno.test("SocketPasser opens socket passing at its first offer, once, and offers nothing where it cannot", async () => {
  let opened = 0;
  const passer = new SocketPasser(() => (opened++, undefined));
  assert.equal(opened, 0, "an edge that meters nothing never pays for it");
  const a = await pair();
  try {
    assert.equal(passer.offer(a.edge), undefined);
    assert.equal(passer.offer(a.edge), undefined);
    assert.equal(opened, 1);
  } finally {
    await passer.close();
    a.edge.close();
    a.client.close();
  }
});

const REQUEST = {
  target: { host: "api.anthropic.com", port: 443 },
  client: "127.0.0.1:40000",
  project: "acme",
};

Deno.test("SocketPasser passes a socket with its CONNECT head once a daemon said it may, and holds it when taken", async () => {
  const passing = new FakePassing();
  const passer = new SocketPasser(() => passing, 60_000, 40);
  const a = await pair();
  try {
    const offer = passer.offer(a.edge)!;
    assert.equal(passer.direct, false, "no daemon has said it takes sockets without a handover");
    assert.equal(await passer.passDirect(a.edge, offer, REQUEST, new Uint8Array(0)), "unsent");
    assert.equal(passing.sent.length, 0);
    passer.learn("/run/p.sock", true);
    assert.ok(passer.direct);
    const outcome = passer.passDirect(a.edge, offer, REQUEST, new TextEncoder().encode("hello"));
    assert.equal(passing.sent.length, 1, "sent at once");
    const { path, fd, payload } = passing.sent[0];
    assert.deepEqual([path, fd], ["/run/p.sock", offer.fd]);
    assert.equal(
      payload,
      "CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\nx-halton-client: 127.0.0.1:40000\r\n" +
        `x-halton-project: acme\r\nx-halton-pass: ${offer.token}\r\nx-halton-deadline: 5040.000\r\n\r\nhello`,
      "the head the daemon would have had on a handover, the token, the deadline on the shared clock, the rest",
    );
    passing.senders.get("/run/p.sock")!.reply("0".repeat(32));
    passing.senders.get("/run/p.sock")!.reply(offer.token);
    assert.equal(await outcome, "taken");
    assert.equal(passer.held, 1);
    assert.deepEqual(passing.unwatched, [offer.fd], "held and out of the edge's event loop");
    passer.learn("/run/p.sock", false);
    assert.equal(passer.direct, false, "a daemon that answers without it is handed over to again");
  } finally {
    await passer.close();
    a.client.close();
  }
});

Deno.test("SocketPasser rings the receivers whose daemon said they watch a bell, and only those", async () => {
  const passing = new FakePassing();
  const passer = new SocketPasser(() => passing, 60_000, 40);
  const [a, b] = [await pair(), await pair()];
  try {
    passer.learn("/run/old.sock", true);
    const first = passer.passDirect(a.edge, passer.offer(a.edge)!, REQUEST, new Uint8Array(0));
    passer.learn("/run/new.sock", true, true);
    const second = passer.passDirect(b.edge, passer.offer(b.edge)!, REQUEST, new Uint8Array(0));
    assert.deepEqual([...passing.rings], [["/run/old.sock", false], ["/run/new.sock", true]]);
    assert.deepEqual(
      await Promise.all([first, second]),
      ["late", "late"],
      "neither replied to: the edge's again",
    );
  } finally {
    await passer.close();
    for (const { edge, client } of [a, b]) {
      edge.close();
      client.close();
    }
  }
});

Deno.test("SocketPasser: a direct pass not replied to by its deadline is the edge's again, one replied late is not", async () => {
  const passing = new FakePassing();
  const passer = new SocketPasser(() => passing, 60_000, 30);
  const [a, b, c] = [await pair(), await pair(), await pair()];
  try {
    passer.learn("/run/p.sock", true);
    const offerA = passer.offer(a.edge)!;
    const started = performance.now();
    assert.equal(await passer.passDirect(a.edge, offerA, REQUEST, new Uint8Array(0)), "late");
    assert.ok(performance.now() - started >= 30 + DIRECT_MARGIN_MS - 5, "waited the deadline and the margin");
    assert.equal(passer.held, 0, "the client's connection stays with the edge, untouched");
    assert.deepEqual(passing.unwatched, []);
    passing.senders.get("/run/p.sock")!.reply(offerA.token);
    assert.equal(passer.held, 0, "a reply after the margin changes nothing");

    const offerB = passer.offer(b.edge)!;
    const outcome = passer.passDirect(b.edge, offerB, REQUEST, new Uint8Array(0));
    // Replied in time but not yet read when the deadline passes: taken all the same.
    passing.senders.get("/run/p.sock")!.queued.push(offerB.token);
    assert.equal(await outcome, "taken");
    assert.equal(passer.held, 1);

    const offerC = passer.offer(c.edge)!;
    const answeredOnly = passer.passDirect(c.edge, offerC, REQUEST, new Uint8Array(0));
    passing.answered!.add(offerC.fd);
    assert.equal(
      await answeredOnly,
      "taken",
      "no reply (the edge's queue was full), but the client answered",
    );
    assert.equal(passer.held, 2);
  } finally {
    await passer.close();
    a.edge.close();
    for (const p of [a, b, c]) p.client.close();
  }
});

Deno.test("SocketPasser: a direct pass the daemon cannot take is unsent, and the next goes by handover", async () => {
  const passing = new FakePassing();
  const passer = new SocketPasser(() => passing, 60_000, 60_000);
  const [a, b, c] = [await pair(), await pair(), await pair()];
  try {
    passer.learn("/run/old.sock", true);
    passing.answered = undefined;
    assert.equal(
      await passer.passDirect(a.edge, passer.offer(a.edge)!, REQUEST, new Uint8Array(0)),
      "unsent",
      "where the kernel cannot say whether the daemon answered, nothing goes without a handover",
    );
    assert.equal(passing.sent.length, 0);
    passing.answered = new Set();
    passing.full = true;
    assert.equal(
      await passer.passDirect(a.edge, passer.offer(a.edge)!, REQUEST, new Uint8Array(0)),
      "unsent",
    );
    assert.equal(passer.direct, false, "a daemon that takes no more (it is stopping) is not passed to again");

    passing.full = false;
    passer.learn("/run/new.sock", true);
    const pending = passer.passDirect(b.edge, passer.offer(b.edge)!, REQUEST, new Uint8Array(0));
    passing.senders.get("/run/new.sock")!.leave();
    assert.equal(await pending, "unsent", "the daemon went before replying: it never took it");
    assert.equal(passer.direct, false);
    assert.equal(passer.held, 0);

    passer.learn("/run/third.sock", true);
    const offerC = passer.offer(c.edge)!;
    const answeredThenGone = passer.passDirect(c.edge, offerC, REQUEST, new Uint8Array(0));
    passing.answered!.add(offerC.fd);
    passing.senders.get("/run/third.sock")!.leave();
    assert.equal(await answeredThenGone, "taken", "it answered the client before it went: never the edge's");
    assert.equal(passer.held, 0);
    assert.ok(await ends(c.client), "and that client's connection ends, as the gone daemon's others do");
    assert.equal(
      await passer.passDirect(a.edge, passer.offer(a.edge)!, REQUEST, new Uint8Array(MAX_PAYLOAD_BYTES)),
      "unsent",
      "too many early bytes to go with the socket",
    );
  } finally {
    await passer.close();
    for (const p of [a, b]) {
      p.edge.close();
      p.client.close();
    }
    c.client.close();
  }
});
