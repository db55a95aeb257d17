/**
 * Capture end to end: real `edge` and `daemon` processes in a temp home, the TLS fake provider reached through
 * `[upstream] resolve`, and real clients (curl, Python's ssl in strict mode, Deno fetch).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { COMPLETION, patternByte } from "../../testkit/fake_provider.ts";
import { type FakeWorld, fakeWorld } from "../../testkit/world.ts";
import { accepts, daemonHealthy, spawnMeter, stop, stopAll, waitFor } from "../../testkit/processes.ts";

type World = FakeWorld;

const world = () => fakeWorld({ prefix: "hm-capture-", hosts: ["api.openai.com"] });

/** Waits for the daemon's health check to pass; when it first did. */
async function healthy(port: number): Promise<number> {
  await waitFor(`a healthy daemon on ${port}`, () => daemonHealthy(port), 15_000);
  return Date.now();
}

async function edgeUp(port: number): Promise<void> {
  await waitFor("the edge", () => accepts(port), 15_000);
}

/** The meter's two processes, as {@linkcode withEdgeAndDaemon} started them. */
interface Meter {
  daemon: Deno.ChildProcess;
  edge: Deno.ChildProcess;
}

/** Runs `fn` against a healthy daemon and edge, each a process of its own, in a fresh world; stops both after. */
async function withEdgeAndDaemon(fn: (w: World, meter: Meter) => Promise<void>): Promise<void> {
  const w = await world();
  const daemon = spawnMeter(w.dir, "daemon");
  const edge = spawnMeter(w.dir, "edge");
  try {
    await healthy(w.ports.api);
    await edgeUp(w.ports.edge);
    await fn(w, { daemon, edge });
  } finally {
    await stopAll([daemon, edge]);
    await w.close();
  }
}

async function curl(args: string[]): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command("curl", { args: ["-sS", "--max-time", "10", ...args], stderr: "piped" })
    .output();
  return { code: r.code, out: new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr) };
}

const hasCurl = await new Deno.Command("curl", { args: ["--version"], stdout: "null" }).output().then(
  (r) => r.success,
  () => false,
);
const hasPython = await new Deno.Command("python3", { args: ["--version"], stdout: "null" }).output().then(
  (r) => r.success,
  () => false,
);

Deno.test({
  name: "curl (HTTP/1.1 and HTTP/2 asked) and Python's strict ssl get answers through the edge and our CA",
  ignore: !hasCurl || !hasPython,
  fn: () =>
    withEdgeAndDaemon(async (w, { daemon, edge }) => {
      const url = "https://api.openai.com/v1/chat/completions";
      for (const version of ["--http1.1", "--http2"]) {
        const r = await curl([
          version,
          "-x",
          `http://127.0.0.1:${w.ports.edge}`,
          "--cacert",
          w.caFile,
          "-d",
          '{"model":"gpt-4o-mini"}',
          url,
        ]);
        assert.equal(r.code, 0, r.out);
        assert.deepEqual(JSON.parse(r.out), COMPLETION);
      }
      const py = await new Deno.Command("python3", {
        args: ["-c", PYTHON_STRICT, String(w.ports.edge), w.caFile],
        stderr: "piped",
      }).output();
      assert.equal(py.code, 0, new TextDecoder().decode(py.stderr));
      assert.match(new TextDecoder().decode(py.stdout), /^200 /);
      const stopped = await stop(daemon);
      assert.equal(stopped.code, 0, "SIGTERM ends the daemon cleanly");
      const written = w.rows();
      assert.equal(written.length, 3, "every call written before exit");
      assert.ok(written.every((r) => r.host === "api.openai.com" && r.http_status === 200));
      assert.equal((await stop(edge)).code, 0);
      const counts = Deno.readTextFileSync(join(w.dir, "logs", "edge.jsonl")).trim().split("\n")
        .map((l) => JSON.parse(l)).filter((e) => e.event === "edge.passthrough")
        .reduce((sum, e) => [sum[0] + e.handed_over, sum[1] + e.passed, sum[2] + e.direct], [0, 0, 0]);
      assert.deepEqual(
        counts,
        Deno.build.os === "linux" ? [3, 3, 2] : [3, 0, 0],
        "on Linux the client's socket goes to the daemon; after the first, without a handover",
      );
    }),
});

/** A connection through the edge's `CONNECT` to a metered host, its `200` read. */
async function connected(edgePort: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: edgePort });
  await conn.write(
    new TextEncoder().encode("CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n"),
  );
  const buf = new Uint8Array(1024);
  let head = "";
  while (!head.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`the CONNECT ended before its answer: ${JSON.stringify(head)}`);
    head += new TextDecoder().decode(buf.subarray(0, n));
  }
  assert.match(head, /^HTTP\/1\.1 200 /);
  return conn;
}

/** Milliseconds until `conn` ends (reads to its end), or undefined when it is still open after `withinMs`. */
async function endsWithin(conn: Deno.TcpConn, withinMs: number): Promise<number | undefined> {
  const started = performance.now();
  const timer = setTimeout(() => conn.close(), withinMs);
  const buf = new Uint8Array(16 * 1024);
  try {
    while (await conn.read(buf) !== null) { /* what the meter sent before it ended */ }
    return performance.now() - started;
  } catch {
    return performance.now() - started < withinMs ? performance.now() - started : undefined;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

Deno.test({
  name:
    "a connection the daemon ends, ends for its client through the edge: a reset upstream mid-answer, bytes that are not TLS, no handshake in time",
  ignore: !hasCurl,
  fn: () =>
    withEdgeAndDaemon(async (w) => {
      const started = performance.now();
      const [reset, notTls, silent] = await Promise.all([
        // HTTP/1.1 has no way to say "reset" but to end the connection before the answer's end.
        curl([
          "--http1.1",
          "-x",
          `http://127.0.0.1:${w.ports.edge}`,
          "--cacert",
          w.caFile,
          "https://api.openai.com/v1/chat/completions?fake=reset",
        ]),
        connected(w.ports.edge).then(async (conn) => {
          await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: api.openai.com\r\n\r\n"));
          return endsWithin(conn, 20_000);
        }),
        // The daemon drops a client that sends no TLS hello within its handshake timeout (10 s).
        connected(w.ports.edge).then((conn) => endsWithin(conn, 20_000)),
      ]);
      assert.equal(reset.code, 18, `curl sees the answer cut short, not a timeout: ${reset.out}`);
      assert.match(reset.out, /"n":1/, "what arrived before the reset was passed on");
      assert.ok(notTls !== undefined && notTls < 5_000, `bytes that are not TLS: ended after ${notTls} ms`);
      assert.ok(
        silent !== undefined && silent < 15_000,
        `no handshake: ended after ${silent} ms (within ${(performance.now() - started).toFixed(0)} ms)`,
      );
      const r = await curl([
        "-x",
        `http://127.0.0.1:${w.ports.edge}`,
        "--cacert",
        w.caFile,
        "-d",
        "{}",
        "https://api.openai.com/v1/chat/completions",
      ]);
      assert.equal(r.code, 0, `and the meter serves on: ${r.out}`);
    }),
});

// Python's ssl with VERIFY_X509_STRICT (the default from 3.13) through the edge's CONNECT.
const PYTHON_STRICT = `
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
ctx.verify_flags |= ssl.VERIFY_X509_STRICT
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"CONNECT api.openai.com:443 HTTP/1.1\\r\\nHost: api.openai.com:443\\r\\n\\r\\n")
head = b""
while b"\\r\\n\\r\\n" not in head:
    head += s.recv(1)
assert head.startswith(b"HTTP/1.1 200"), head
t = ctx.wrap_socket(s, server_hostname="api.openai.com")
t.sendall(b"POST /v1/chat/completions HTTP/1.1\\r\\nHost: api.openai.com\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\n{}")
data = b""
while True:
    chunk = t.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.split(b"\\r\\n")[0].decode()[9:])
`;

Deno.test("killing the daemon mid-load fails no request started after the kill, and a restart resumes metering", async () => {
  const w = await world();
  let daemon = spawnMeter(w.dir, "daemon");
  const edge = spawnMeter(w.dir, "edge");
  const ourCa = await (async () => {
    await healthy(w.ports.api);
    return await Deno.readTextFile(w.caFile);
  })();
  // A fresh client per request: a pooled connection into a killed daemon is not "a request started after".
  const call = async () => {
    const client = Deno.createHttpClient({
      proxy: { url: `http://127.0.0.1:${w.ports.edge}` },
      caCerts: [ourCa, w.fake.caPem],
    });
    try {
      const res = await fetch("https://api.openai.com/v1/chat/completions", {
        method: "POST",
        body: "{}",
        client,
      });
      const body = await res.json();
      return res.status === 200 && body.id === COMPLETION.id;
    } catch {
      return false;
    } finally {
      client.close();
    }
  };
  try {
    await edgeUp(w.ports.edge);
    assert.ok(await call());
    let killedAt = Infinity;
    const failuresAfterKill: number[] = [];
    let running = true;
    let slowest = 0;
    let calls = 0;
    const workers = Array.from({ length: 4 }, async () => {
      while (running) {
        const started = performance.now();
        const ok = await call();
        slowest = Math.max(slowest, performance.now() - started);
        calls++;
        if (!ok && started > killedAt) failuresAfterKill.push(started - killedAt);
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    killedAt = performance.now();
    daemon.kill("SIGKILL");
    await daemon.status;
    await new Promise((r) => setTimeout(r, 1000));
    daemon = spawnMeter(w.dir, "daemon");
    const readyAt = await healthy(w.ports.api);
    const before = w.rows().length;
    let resumedMs = -1;
    // A probe of its own: workers whose request was in flight at the kill may still be waiting for it to fail.
    while (Date.now() - readyAt < 3000) {
      await call();
      await new Promise((r) => setTimeout(r, 30));
      if (w.rows().length > before) {
        resumedMs = Date.now() - readyAt;
        break;
      }
    }
    running = false;
    await Promise.all(workers);
    assert.deepEqual(failuresAfterKill, [], "requests started after the kill all succeeded");
    const logTail = async (name: string) =>
      (await Deno.readTextFile(join(w.dir, "logs", `${name}.jsonl`)).catch(() => "")).split("\n")
        .filter((l) => !l.includes("intercept.complete")).slice(-12).join("\n");
    assert.ok(
      resumedMs >= 0 && resumedMs <= 1000,
      `metering resumed ${resumedMs} ms after the restart (${calls} calls, slowest ${
        slowest.toFixed(0)
      } ms)\n` +
        `${await logTail("edge")}\n${await logTail("daemon")}`,
    );
  } finally {
    await stopAll([daemon, edge]);
    await w.close();
  }
});

Deno.test("a slow client reading a 50 MB body does not make the daemon buffer it", async () => {
  const w = await world();
  const daemon = spawnMeter(w.dir, "daemon");
  try {
    await healthy(w.ports.api);
    const ca = await Deno.readTextFile(w.caFile);
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: w.ports.intercept });
    await tcp.write(new TextEncoder().encode("CONNECT api.openai.com:443 HTTP/1.1\r\n\r\n"));
    const buf = new Uint8Array(64 * 1024);
    let head = "";
    while (!head.includes("\r\n\r\n")) {
      head += new TextDecoder().decode(buf.subarray(0, (await tcp.read(buf))!));
    }
    const conn = await Deno.startTls(tcp, { hostname: "api.openai.com", caCerts: [ca] });
    const total = 50 * 1024 * 1024;
    await conn.write(
      new TextEncoder().encode(
        `GET /v1/chat/completions?fake=big&bytes=${total} HTTP/1.1\r\nHost: api.openai.com\r\n\r\n`,
      ),
    );
    const first = (await conn.read(buf))!;
    const text = new TextDecoder().decode(buf.subarray(0, first));
    const headEnd = text.indexOf("\r\n\r\n") + 4;
    assert.match(text, /^HTTP\/1\.1 200/);
    // Stop reading for a while: the provider keeps sending, the daemon must hold back instead of buffering.
    await new Promise((r) => setTimeout(r, 1500));
    const rssMb = Number(/VmRSS:\s+(\d+)/.exec(await Deno.readTextFile(`/proc/${daemon.pid}/status`))![1]) /
      1024;
    let received = first - headEnd;
    let bad = -1;
    for (let i = headEnd; i < first; i++) if (buf[i] !== patternByte(i - headEnd)) bad = i - headEnd;
    while (received < total) {
      const n = await conn.read(buf);
      if (n === null) break;
      for (let i = 0; i < n && bad < 0; i++) if (buf[i] !== patternByte(received + i)) bad = received + i;
      received += n;
    }
    conn.close();
    assert.equal(received, total);
    assert.equal(bad, -1);
    assert.ok(rssMb < 150, `daemon RSS ${rssMb.toFixed(0)} MB while the client was not reading`);
  } finally {
    await stop(daemon);
    await w.close();
  }
});
