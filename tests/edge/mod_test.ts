import assert from "node:assert/strict";
import { join } from "node:path";
import { MeterError } from "../../core/errors.ts";
import { Logger } from "../../core/log.ts";
import { type Edge, type EdgeOptions, startEdge } from "../../edge/mod.ts";
import { writeAll } from "../../edge/_splice.ts";
import { type FakeDaemon, startFakeDaemon } from "../helpers/fake_daemon.ts";
import {
  connectThrough,
  freePort,
  rawExchange,
  readAll,
  readHeadText,
  startCorporateProxy,
  startEchoServer,
  startRecordingOrigin,
  startTcpServer,
  type TestServer,
  text,
  writeText,
} from "./_fakes.ts";

interface Rig {
  edge: Edge;
  daemon: FakeDaemon;
  echo: TestServer;
  logFile: string;
}

/** An edge in this process with a fake daemon that relays to an echo server; everything closed after `fn`. */
async function withRig(
  fn: (rig: Rig) => Promise<void>,
  options: Partial<EdgeOptions> & { resolveToEcho?: string[] } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "edge-test-" });
  const echo = startEchoServer();
  const daemon = startFakeDaemon({ forwardTo: { hostname: "127.0.0.1", port: echo.port } });
  const logger = new Logger({ process: "edge", dir });
  const resolve: Record<string, string> = {};
  for (const h of options.resolveToEcho ?? []) resolve[h] = `127.0.0.1:${echo.port}`;
  const edge = await startEdge({
    port: 0,
    interceptPort: daemon.interceptPort,
    apiPort: daemon.apiPort,
    upstream: { proxy: "", resolve },
    logger,
    ...options,
  });
  try {
    await fn({ edge, daemon, echo, logFile: join(dir, "edge.jsonl") });
  } finally {
    await edge.close();
    await daemon.close();
    await echo.close();
    logger.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Sends `message` through an established tunnel, half-closes, and returns everything that comes back. */
async function echoThrough(conn: Deno.TcpConn, rest: Uint8Array, message: string): Promise<string> {
  await writeText(conn, message);
  await conn.closeWrite();
  const back = text(rest) + text(await readAll(conn));
  conn.close();
  return back;
}

function logEvents(file: string): Record<string, unknown>[] {
  return Deno.readTextFileSync(file).trim().split("\n").map((l) => JSON.parse(l));
}

Deno.test("startEdge() tunnels an unmetered CONNECT straight to the host, with early bytes and half-close", async () => {
  await withRig(async ({ edge, daemon, echo }) => {
    const { conn, head, rest } = await connectThrough(edge.port, `127.0.0.1:${echo.port}`, {}, "early-");
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.equal(await echoThrough(conn, rest, "ping"), "early-ping");
    assert.equal(daemon.healthChecks, 0, "unmetered traffic must not wait for a health check");
    assert.equal(daemon.interceptConnections, 0);
  });
});

Deno.test("startEdge() moves a 3 MB upload through a tunnel byte for byte", async () => {
  await withRig(async ({ edge, echo }) => {
    const { conn, head, rest } = await connectThrough(edge.port, `127.0.0.1:${echo.port}`);
    assert.match(head, /^HTTP\/1\.1 200 /);
    const upload = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < upload.length; i += 65536) crypto.getRandomValues(upload.subarray(i, i + 65536));
    const [, back] = await Promise.all([
      (async () => {
        await writeAll(conn, upload);
        await conn.closeWrite();
      })(),
      readAll(conn),
    ]);
    conn.close();
    assert.equal(rest.length + back.length, upload.length);
    const got = new Uint8Array(upload.length);
    got.set(rest);
    got.set(back, rest.length);
    assert.ok(got.every((b, i) => b === upload[i]), "the bytes came back unchanged");
  });
});

Deno.test("startEdge() keeps a tunnel open one way after the host half-closes the other", async () => {
  const received = Promise.withResolvers<string>();
  const host = startTcpServer(async (conn) => {
    await writeText(conn, "hello");
    await conn.closeWrite();
    received.resolve(text(await readAll(conn)));
  });
  await withRig(async ({ edge }) => {
    const { conn, head, rest } = await connectThrough(edge.port, `127.0.0.1:${host.port}`);
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.equal(text(rest) + text(await readAll(conn)), "hello");
    await writeText(conn, "after your FIN");
    await conn.closeWrite();
    assert.equal(await received.promise, "after your FIN");
    conn.close();
  });
  await host.close();
});

Deno.test("startEdge() hands a metered CONNECT to a healthy daemon with the client's address and project", async () => {
  await withRig(async ({ edge, daemon }) => {
    const { conn, head, rest } = await connectThrough(edge.port, "api.openai.com:443", {
      "Proxy-Authorization": `Basic ${btoa("acme-app:")}`,
    });
    assert.match(head, /^HTTP\/1\.1 200 Connection Established\r\n/);
    const clientPort = conn.localAddr.port;
    assert.equal(await echoThrough(conn, rest, "through the daemon"), "through the daemon");
    assert.deepEqual(daemon.handovers, [
      { target: "api.openai.com:443", client: `127.0.0.1:${clientPort}`, project: "acme-app" },
    ]);
  });
});

Deno.test("startEdge() meters the hosts of config [hosts] and drops a project tag that is not a slug", async () => {
  await withRig(async ({ edge, daemon }) => {
    const { conn, head, rest } = await connectThrough(edge.port, "LLM.Example.com:8443", {
      "Proxy-Authorization": `Basic ${btoa("Not A Slug:secret")}`,
    });
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.equal(await echoThrough(conn, rest, "x"), "x");
    assert.equal(daemon.handovers.length, 1);
    assert.equal(daemon.handovers[0].target, "llm.example.com:8443");
    assert.equal(daemon.handovers[0].project, undefined);
  }, { extraHosts: ["llm.example.com"] });
});

const FAILING_DAEMONS = {
  "hang-up": "hangs up on the handover",
  refuse: "answers the handover with 503",
  silent: "never answers the handover (1 s timeout)",
} as const;

for (const [behaviour, what] of Object.entries(FAILING_DAEMONS) as [keyof typeof FAILING_DAEMONS, string][]) {
  Deno.test(`startEdge() tunnels a metered CONNECT itself when the daemon ${what}`, async () => {
    await withRig(async ({ edge, daemon, logFile }) => {
      daemon.behaviour = behaviour;
      const started = performance.now();
      const first = await connectThrough(edge.port, "api.anthropic.com:443", {}, "hello ");
      const took = performance.now() - started;
      assert.match(first.head, /^HTTP\/1\.1 200 /);
      assert.equal(await echoThrough(first.conn, first.rest, "anthropic"), "hello anthropic");
      assert.equal(daemon.handovers.length, 1);
      assert.ok(took < 1500, `fallback took ${took} ms`);
      // Right after a failed handover the daemon counts as down: the next CONNECT does not try it.
      const second = await connectThrough(edge.port, "api.anthropic.com:443");
      assert.equal(await echoThrough(second.conn, second.rest, "again"), "again");
      assert.equal(daemon.interceptConnections, 1);
      assert.ok(logEvents(logFile).some((e) => e.event === "edge.daemon_unhealthy"));
    }, { resolveToEcho: ["api.anthropic.com"] });
  });
}

Deno.test("startEdge() keeps waiting on a daemon that answers a CONNECT late while it sends on connections handed over earlier", async () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // A daemon in a burst: busy with the connections it took first (their handshakes), a late CONNECT waits.
  const intercept = startTcpServer(async (conn) => {
    const { head } = await readHeadText(conn);
    const target = head.split(" ")[1];
    if (target === "late.test:443") await sleep(1600);
    await writeText(conn, "HTTP/1.1 200 Connection Established\r\n\r\n");
    if (target === "late.test:443") await writeText(conn, "from the daemon");
    for (let i = 0; target === "busy.test:443" && i < 25; i++) {
      await writeText(conn, ".");
      await sleep(100);
    }
    await conn.read(new Uint8Array(1));
  });
  try {
    await withRig(async ({ edge }) => {
      const busy = await connectThrough(edge.port, "busy.test:443");
      assert.match(busy.head, /^HTTP\/1\.1 200 /);
      const started = performance.now();
      const late = await connectThrough(edge.port, "late.test:443");
      const took = performance.now() - started;
      assert.match(late.head, /^HTTP\/1\.1 200 /, `the edge gave up after ${took.toFixed(0)} ms`);
      let said = text(late.rest);
      while (said.length < "from the daemon".length) {
        const buf = new Uint8Array(64);
        const n = await late.conn.read(buf);
        if (n === null) break;
        said += text(buf.subarray(0, n));
      }
      assert.equal(said, "from the daemon", "handed over, not tunnelled past the daemon");
      assert.ok(took >= 1500, `answered after ${took.toFixed(0)} ms`);
      busy.conn.close();
      late.conn.close();
    }, { interceptPort: intercept.port, extraHosts: ["busy.test", "late.test"] });
  } finally {
    await intercept.close();
  }
});

Deno.test("startEdge() falls back within the same CONNECT when the daemon died while cached as healthy", async () => {
  await withRig(async ({ edge, daemon }) => {
    const first = await connectThrough(edge.port, "api.x.ai:443");
    assert.equal(await echoThrough(first.conn, first.rest, "one"), "one");
    assert.equal(daemon.handovers.length, 1);
    await daemon.stop();
    const second = await connectThrough(edge.port, "api.x.ai:443");
    assert.match(second.head, /^HTTP\/1\.1 200 /);
    assert.equal(await echoThrough(second.conn, second.rest, "two"), "two");
    assert.equal(daemon.handovers.length, 1);
  }, { resolveToEcho: ["api.x.ai"] });
});

Deno.test("startEdge() tunnels metered hosts without trying the daemon while /health says it is not ok", async () => {
  await withRig(async ({ edge, daemon }) => {
    daemon.healthy = false;
    for (let i = 0; i < 3; i++) {
      const { conn, rest } = await connectThrough(edge.port, "chatgpt.com:443");
      assert.equal(await echoThrough(conn, rest, `n${i}`), `n${i}`);
    }
    assert.equal(daemon.interceptConnections, 0);
    assert.equal(daemon.healthChecks, 1, "three CONNECTs within 200 ms share one health check");
  }, { resolveToEcho: ["chatgpt.com"] });
});

Deno.test("startEdge() coalesces the health checks of concurrent metered CONNECTs into one", async () => {
  await withRig(async ({ edge, daemon }) => {
    const results = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      const { conn, rest } = await connectThrough(edge.port, "api.openai.com:443");
      return await echoThrough(conn, rest, `c${i}`);
    }));
    assert.deepEqual(results, Array.from({ length: 8 }, (_, i) => `c${i}`));
    assert.equal(daemon.healthChecks, 1);
    assert.equal(daemon.handovers.length, 8);
  });
});

Deno.test("startEdge() answers malformed requests with 400 and keeps serving", async () => {
  await withRig(async ({ edge, echo }) => {
    const bad = [
      "\x16\x03\x01\x02\x00garbage\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      "CONNECT no-port HTTP/1.1\r\n\r\n",
      "CONNECT a b:443 HTTP/1.1\r\n\r\n",
      "GET https://example.com/ HTTP/1.1\r\n\r\n",
      "CONNECT x:443 HTTP/1.1\r\n folded: header\r\n\r\n",
      "CONNECT x:443 HTTP/1.1\r\nBad Name: v\r\n\r\n",
      "CONNECT x:99999 HTTP/1.1\r\n\r\n",
      "GET http://user@example.com/ HTTP/1.1\r\n\r\n",
    ];
    for (const request of bad) {
      assert.match(
        await rawExchange(edge.port, request),
        /^HTTP\/1\.1 400 Bad Request\r\n/,
        JSON.stringify(request),
      );
    }
    const huge = `CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nX-Big: ${"a".repeat(70 * 1024)}\r\n\r\n`;
    assert.match(await rawExchange(edge.port, huge), /^HTTP\/1\.1 400 [^]*64 KiB/);
    const { conn, rest } = await connectThrough(edge.port, `127.0.0.1:${echo.port}`);
    assert.equal(await echoThrough(conn, rest, "still here"), "still here");
  });
});

Deno.test("startEdge() answers 502 when the host cannot be reached", async () => {
  await withRig(async ({ edge }) => {
    const { conn, head, rest } = await connectThrough(edge.port, `127.0.0.1:${freePort()}`);
    assert.match(head, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.match(text(rest) + text(await readAll(conn)), /cannot connect to 127\.0\.0\.1:\d+/);
    conn.close();
  });
});

Deno.test("startEdge() serves other clients while one stalls mid-head and another never reads", async () => {
  await withRig(async ({ edge, echo }) => {
    const stalled = await Deno.connect({ hostname: "127.0.0.1", port: edge.port });
    await writeText(stalled, "CONNECT 127.0.0.1:");
    const deaf = await connectThrough(edge.port, `127.0.0.1:${echo.port}`);
    await writeText(deaf.conn, new Uint8Array(256 * 1024));
    const { conn, rest } = await connectThrough(edge.port, `127.0.0.1:${echo.port}`);
    assert.equal(await echoThrough(conn, rest, "unblocked"), "unblocked");
    stalled.close();
    deaf.conn.close();
  });
});

Deno.test("startEdge() forwards a plain http:// request in origin form without hop-by-hop or Proxy-* headers", async () => {
  const origin = startRecordingOrigin();
  await withRig(async ({ edge }) => {
    const answer = await rawExchange(
      edge.port,
      `GET http://127.0.0.1:${origin.port}/a/b?c=d#frag HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n` +
        "Proxy-Authorization: Basic eDo=\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive, X-Hop\r\n" +
        "X-Hop: 1\r\nX-Keep: 2\r\n\r\n",
    );
    assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(answer, /\r\nConnection: close\r\n/);
    assert.match(answer, /\r\nX-Origin: recording\r\n/);
    assert.doesNotMatch(answer, /Keep-Alive/i);
    assert.ok(answer.endsWith("\r\n\r\nplain ok /a/b?c=d"));
    const [head] = origin.heads;
    assert.match(head, /^GET \/a\/b\?c=d HTTP\/1\.1\r\n/);
    assert.match(head, new RegExp(`\r\nHost: 127\\.0\\.0\\.1:${origin.port}\r\n`));
    assert.match(head, /\r\nX-Keep: 2\r\n/);
    assert.match(head, /\r\nConnection: close\r\n/);
    assert.doesNotMatch(head, /Proxy-|X-Hop|keep-alive/i);
  });
  await origin.close();
});

Deno.test("startEdge() passes a plain http request body through unchanged", async () => {
  const origin = startTcpServer(async (conn) => {
    const { head, rest } = await readHeadText(conn);
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1]);
    let body = text(rest);
    while (body.length < length) {
      const buf = new Uint8Array(4096);
      const n = await conn.read(buf);
      if (n === null) break;
      body += text(buf.subarray(0, n));
    }
    const reply = `got ${body.length}: ${body}`;
    await writeText(conn, `HTTP/1.1 201 Created\r\nContent-Length: ${reply.length}\r\n\r\n${reply}`);
  });
  await withRig(async ({ edge }) => {
    const body = "x".repeat(100_000);
    const answer = await rawExchange(
      edge.port,
      `POST http://127.0.0.1:${origin.port}/upload HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    assert.match(answer, /^HTTP\/1\.1 201 Created\r\n/);
    assert.ok(answer.endsWith(`got 100000: ${body}`));
  });
  await origin.close();
});

Deno.test("startEdge() chains tunnels through [upstream] proxy with its credentials; resolve overrides skip it", async () => {
  const auth = `Basic ${btoa("corp:pa ss")}`;
  await withRig(async ({ edge, echo }) => {
    const proxy = startCorporateProxy({ hostname: "127.0.0.1", port: echo.port }, auth);
    await edge.close();
    const chained = await startEdge({
      port: 0,
      interceptPort: freePort(),
      apiPort: freePort(),
      upstream: {
        proxy: `http://corp:pa%20ss@127.0.0.1:${proxy.port}`,
        resolve: { "pinned.example": `127.0.0.1:${echo.port}` },
      },
    });
    try {
      const viaProxy = await connectThrough(chained.port, "far.example:443", {}, "early ");
      assert.match(viaProxy.head, /^HTTP\/1\.1 200 /);
      assert.equal(await echoThrough(viaProxy.conn, viaProxy.rest, "bird"), "early bird");
      assert.equal(proxy.heads.length, 1);
      assert.match(proxy.heads[0], /^CONNECT far\.example:443 HTTP\/1\.1\r\n/);
      const pinned = await connectThrough(chained.port, "pinned.example:443");
      assert.equal(await echoThrough(pinned.conn, pinned.rest, "direct"), "direct");
      assert.equal(proxy.heads.length, 1, "a resolve override connects directly");
    } finally {
      await chained.close();
      await proxy.close();
    }
  });
});

Deno.test("startEdge() answers 502 when the upstream proxy refuses the CONNECT", async () => {
  const proxy = startCorporateProxy({ hostname: "127.0.0.1", port: freePort() }, "Basic bm9ib2R5Og==");
  const edge = await startEdge({
    port: 0,
    interceptPort: freePort(),
    apiPort: freePort(),
    upstream: { proxy: `http://127.0.0.1:${proxy.port}`, resolve: {} },
  });
  try {
    const { conn, head, rest } = await connectThrough(edge.port, "far.example:443");
    assert.match(head, /^HTTP\/1\.1 502 /);
    assert.match(text(rest) + text(await readAll(conn)), /answered 407 to CONNECT far\.example:443/);
    conn.close();
  } finally {
    await edge.close();
    await proxy.close();
  }
});

Deno.test("startEdge() logs passthrough counts each interval and at exit, without host names", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edge-test-" });
  const echo = startEchoServer();
  const logger = new Logger({ process: "edge", dir });
  const edge = await startEdge({
    port: 0,
    interceptPort: freePort(),
    apiPort: freePort(),
    logger,
    statsIntervalMs: 100,
    upstream: { proxy: "", resolve: { "secret-host.example": `127.0.0.1:${echo.port}` } },
  });
  const { conn, rest } = await connectThrough(edge.port, "secret-host.example:443");
  assert.equal(await echoThrough(conn, rest, "a"), "a");
  await new Promise((r) => setTimeout(r, 250));
  assert.match(await rawExchange(edge.port, "nonsense\r\n\r\n"), /^HTTP\/1\.1 400 /);
  await edge.close();
  logger.close();
  await echo.close();
  const file = Deno.readTextFileSync(join(dir, "edge.jsonl"));
  await Deno.remove(dir, { recursive: true });
  const events = file.trim().split("\n").map((l) => JSON.parse(l));
  const passthrough = events.filter((e) => e.event === "edge.passthrough");
  assert.equal(events[0].event, "edge.startup.ready");
  assert.equal(events[0].port, edge.port);
  assert.equal(
    passthrough.length,
    2,
    "one interval line with traffic, one at exit; idle intervals are skipped",
  );
  assert.equal(passthrough[0].tunnelled, 1);
  assert.equal(passthrough[0].final, false);
  assert.equal(passthrough[1].rejected, 1);
  assert.equal(passthrough[1].final, true);
  assert.equal(events.at(-1).event, "edge.exit");
  assert.ok(!file.includes("secret-host"), "the edge never logs where a client connects");
});

Deno.test("Edge.close() ends open tunnels and frees the port", async () => {
  const echo = startEchoServer();
  const edge = await startEdge({ port: 0, interceptPort: freePort(), apiPort: freePort() });
  const { conn } = await connectThrough(edge.port, `127.0.0.1:${echo.port}`);
  await edge.close();
  await edge.close();
  assert.equal(text(await readAll(conn).catch(() => new Uint8Array())), "");
  conn.close();
  const again = Deno.listen({ hostname: "127.0.0.1", port: edge.port });
  again.close();
  await echo.close();
});

Deno.test("startEdge() on a port in use fails with a hint instead of a stack trace", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await assert.rejects(
      () => startEdge({ port: taken.addr.port, interceptPort: freePort(), apiPort: freePort() }),
      (e: unknown) => e instanceof MeterError && /in use/.test(e.message) && /edge\.port/.test(e.hint ?? ""),
    );
  } finally {
    taken.close();
  }
});

Deno.test("startEdge() answers garbage of any length with 400 and a close at once, not at the head timeout", async () => {
  await withRig(async ({ edge, echo }) => {
    const concatBytes = (a: Uint8Array, b: Uint8Array) => {
      const out = new Uint8Array(a.length + b.length);
      out.set(a);
      out.set(b, a.length);
      return out;
    };
    const random = (n: number) => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
      return b;
    };
    const cases: [string, Uint8Array][] = [
      ["one TLS byte", new Uint8Array([0x16])],
      ["a TLS ClientHello start", new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])],
      ["exactly 64 KiB of random bytes", random(64 * 1024)],
      ["exactly 64 KiB of letters, no line end", new TextEncoder().encode("a".repeat(64 * 1024))],
      ["a request line that never ends", new TextEncoder().encode(`CONNECT ${"a".repeat(40 * 1024)}`)],
      ["a line end in the wrong place", new TextEncoder().encode("CONNECT x:1\r\n")],
      [
        "a good request line, then 64 KiB of one header line",
        new TextEncoder().encode(`CONNECT x:1 HTTP/1.1\r\nX: ${"a".repeat(64 * 1024)}`),
      ],
      [
        "a good request line, then binary",
        concatBytes(new TextEncoder().encode("CONNECT x:1 HTTP/1.1\r\n"), random(1000)),
      ],
      ["1 MiB of random bytes", random(1024 * 1024)],
    ];
    for (const [what, bytes] of cases) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: edge.port });
      const started = performance.now();
      // The client sends its bytes and then waits, as a confused client does: it never closes its side.
      const writing = writeText(conn, bytes).catch(() => {});
      const timer = setTimeout(() => conn.close(), 10_000);
      try {
        const answer = text(await readAll(conn));
        assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n[^]*Connection: close/, what);
        assert.ok(performance.now() - started < 10_000, `${what}: answered only at the deadline`);
      } finally {
        clearTimeout(timer);
        await writing;
        conn.close();
      }
    }
    const { conn, rest } = await connectThrough(edge.port, `127.0.0.1:${echo.port}`);
    assert.equal(await echoThrough(conn, rest, "still here"), "still here");
  });
});
